from civicgrid.people.models import Role


def test_each_role_sees_its_units_and_duties(client, world):
    client.force_login(world.users["dispatcher_a"])
    page = client.get("/desk/").content.decode()
    assert "街道指挥中心" in page and "甲街道" in page and "分拣、派遣" in page
    assert "乙街道" not in page
    assert 'data-role="dispatcher"' in page


def test_desk_without_membership_says_so(client, world):
    client.force_login(world.users["nobody"])
    assert "您还没有任何单位的任职" in client.get("/desk/").content.decode()


def test_desk_needs_login(client, db):
    response = client.get("/desk/")
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_every_role_has_duties():
    from civicgrid.people.roles import DUTIES

    assert set(DUTIES) == set(Role.values)


def test_home_sends_staff_to_the_desk_and_visitors_to_the_report_page(client, world):
    assert client.get("/").url == "/report/"
    assert "随手拍" in client.get("/login/").content.decode()
    client.force_login(world.users["staff_a1"])
    assert client.get("/").url == "/desk/"
