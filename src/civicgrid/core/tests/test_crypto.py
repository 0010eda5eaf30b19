import pytest
from cryptography.exceptions import InvalidTag

from civicgrid.core import crypto


def test_round_trip_and_nonce_differs():
    a, b = crypto.encrypt("13812345678"), crypto.encrypt("13812345678")
    assert a != b and "13812345678" not in a
    assert crypto.decrypt(a) == crypto.decrypt(b) == "13812345678"


def test_tampered_token_is_refused():
    token = bytearray(crypto.encrypt("张三").encode())
    token[-3] = ord("A") if token[-3] != ord("A") else ord("B")
    with pytest.raises((InvalidTag, ValueError)):
        crypto.decrypt(token.decode())


def test_blind_index_matches_normalised_values_only():
    assert crypto.blind_index("138 1234 5678") == crypto.blind_index("13812345678")
    assert crypto.blind_index("13812345678") != crypto.blind_index("13812345679")
    assert crypto.blind_index("") == ""


def test_masks():
    assert crypto.mask_phone("13812345678") == "138****5678"
    assert crypto.mask_id_number("520222199001011234") == "520222********1234"
    assert crypto.mask_name("张三丰") == "张**"


@pytest.mark.django_db  # run_checks also runs the calendar's, which reads the overrides
def test_the_deploy_check_warns_while_personal_data_shares_the_secret_key(settings):
    from django.core.checks import run_checks

    from civicgrid.core import checks

    settings.PRODUCTION, settings.CIVICGRID_DATA_KEY = True, ""
    assert [m.id for m in checks.check_data_key(None)] == ["core.W102"]
    assert "core.W102" in [m.id for m in run_checks(include_deployment_checks=True, tags=["civicgrid"])]
    assert "core.W102" not in [m.id for m in run_checks(tags=["civicgrid"])]  # only with --deploy
    settings.CIVICGRID_DATA_KEY = "k" * 50
    assert checks.check_data_key(None) == []
    settings.PRODUCTION, settings.CIVICGRID_DATA_KEY = False, ""
    assert checks.check_data_key(None) == []  # development: the generated secret key will do
