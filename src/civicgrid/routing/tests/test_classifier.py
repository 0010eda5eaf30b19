"""The routing classifier on a tiny synthetic data set: train, predict, save/load, format versions."""

import json
import random
import zipfile

import numpy as np
import pytest

from civicgrid.routing import classifier

TOPICS = {
    "教育文体": ["学校乱收补课费", "老师体罚学生", "幼儿园学位紧张", "校车超载接送学生"],
    "交通运输": ["公交车绕路不停站", "出租车拒载乱收费", "客运班车超载", "公交线路停运"],
    "环境保护": ["工厂排放黑烟刺鼻", "河道污水直排发臭", "搅拌站粉尘污染", "夜间施工噪音扰民"],
}
PLACES = ["A市A1区", "A市A3区", "B市B2县", "C市C1区", "D市D5区", "E市E10县"]
OPENINGS = ["尊敬的领导：", "您好！", "我是附近居民，", "\u3000\u3000", "\n\t\t\t"]


def messages(per_label: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for label, topics in TOPICS.items():
        for _ in range(per_label):
            topic, place = rng.choice(topics), rng.choice(PLACES)
            body = f"{rng.choice(OPENINGS)}{place}{topic}，希望有关部门尽快处理。\n\t\t{rng.choice(topics)}"
            texts.append(classifier.message_text(f"{place}{topic}", body))
            labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def model():
    texts, labels = messages(12, seed=1)
    return classifier.train(texts, labels)


def test_normalise_and_message_text():
    assert classifier.normalise("\n\t\t\t一\u3000\u3000二\xa0三 \n") == "一 二 三"
    text = classifier.message_text("  标题\u3000一 ", "\n\t\t\t正文\n\t第二行\u3000")
    assert text == "标题 一\n正文 第二行"
    assert classifier.split_message(text) == ("标题 一", "标题 一 正文 第二行")
    assert classifier.split_message(classifier.message_text("", "只有正文")) == ("", "只有正文")
    assert classifier.split_message("一行文字") == ("", "一行文字")


def test_train_and_predict(model):
    assert model.labels == sorted(TOPICS)
    texts, labels = messages(5, seed=2)
    assert np.mean(np.array(model.predict(texts)) == np.array(labels)) >= 0.9
    assert model.predict([classifier.message_text("河道污水", "工厂污水直排河道，发臭")]) == ["环境保护"]


def test_top_k_is_sorted_best_first_and_probabilities_sum_to_one(model):
    texts, _ = messages(2, seed=3)
    everything = model.predict_proba(texts)
    top2 = model.predict_proba(texts, top_k=2)
    for ranked, best in zip(everything, top2, strict=True):
        scores = [score for _, score in ranked]
        assert scores == sorted(scores, reverse=True)
        assert sorted(label for label, _ in ranked) == model.labels
        assert sum(scores) == pytest.approx(1.0)
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert best == ranked[:2]
    assert [ranked[0][0] for ranked in everything] == model.predict(texts)


def test_metadata(model):
    meta = model.metadata
    assert meta["format_version"] == classifier.FORMAT_VERSION
    assert meta["n_train"] == 36 and meta["labels"] == model.labels
    assert meta["label_counts"] == {label: 12 for label in TOPICS}
    assert meta["versions"]["scikit-learn"] and meta["trained_at"]
    cv = meta["cross_validation"]
    assert cv["folds"] == 5 and 0.0 <= cv["macro_f1"] <= 1.0 and not cv["grouped"]
    assert meta["temperature"] > 0
    json.dumps(meta)  # plain data only


def test_save_and_load_round_trip(model, tmp_path):
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = classifier.load(path)
    texts, _ = messages(3, seed=4)
    assert loaded.labels == model.labels
    assert loaded.metadata == model.metadata
    assert loaded.options == model.options
    assert loaded.predict_proba(texts) == model.predict_proba(texts)
    with zipfile.ZipFile(path) as archive:  # plain arrays, nothing pickled
        assert all(name.endswith(".npy") for name in archive.namelist())


def test_a_file_of_another_format_version_is_refused(model, tmp_path, monkeypatch):
    path = tmp_path / "future.npz"
    monkeypatch.setattr(classifier, "FORMAT_VERSION", classifier.FORMAT_VERSION + 1)
    model.save(path)
    monkeypatch.undo()
    with pytest.raises(classifier.IncompatibleModelError, match=r"format version 2.*reads version 1"):
        classifier.load(path)


def test_a_file_that_is_no_model_is_refused(tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a model")
    with pytest.raises(classifier.IncompatibleModelError, match="not a routing model"):
        classifier.load(garbage)
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.zeros(3))
    with pytest.raises(classifier.IncompatibleModelError, match="not a routing model"):
        classifier.load(other)


def test_groups_keep_a_group_within_one_calibration_fold():
    texts, labels = messages(10, seed=5)
    groups = [i // 2 for i in range(len(texts))]  # pairs of messages by one user
    model = classifier.train(texts, labels, groups=groups, calibration_folds=3)
    assert model.metadata["cross_validation"]["grouped"]
    assert model.metadata["cross_validation"]["folds"] == 3


def test_too_little_data_to_cross_validate_still_trains():
    texts, labels = messages(1, seed=6)
    model = classifier.train(texts, labels, min_df=1)
    assert model.metadata["cross_validation"] is None and model.temperature == 1.0
    assert len(model.predict_proba(texts[:1])[0]) == 3


def test_training_refuses_bad_input():
    with pytest.raises(ValueError, match="two different labels"):
        classifier.train(["甲", "乙"], ["一", "一"])
    with pytest.raises(ValueError, match="labels"):
        classifier.train(["甲", "乙"], ["一"])
    with pytest.raises(TypeError):
        classifier.train(["甲", "乙"], ["一", "二"], no_such_option=1)


def test_thresholds_for_precision(model):
    texts, labels = messages(12, seed=1)
    thresholds = classifier.thresholds_for_precision(model, texts, labels, target=0.9)
    assert set(thresholds) == set(model.labels)
    assert all(value is None or 0.0 < value <= 1.0 for value in thresholds.values())
    assert any(value is not None for value in thresholds.values())
    assert classifier.thresholds_for_precision(model, texts, labels, target=1.01) == dict.fromkeys(
        model.labels
    )


def test_unlabeled_texts_only_change_document_frequencies():
    texts, labels = messages(8, seed=7)
    extra, _ = messages(4, seed=8)
    plain = classifier.train(texts, labels, calibration_folds=2)
    semi = classifier.train(texts, labels, unlabeled=extra, calibration_folds=2)
    assert semi.metadata["n_unlabeled"] == len(extra)
    assert [b.terms for b in semi.blocks] == [b.terms for b in plain.blocks]  # vocabulary: labeled only
    assert not np.allclose(semi.blocks[0].idf, plain.blocks[0].idf)


def test_features_at_prediction_match_the_features_of_training():
    texts, labels = messages(6, seed=9)
    options = classifier.Options()
    corpus = classifier._Corpus(texts, [], options)
    label_list = sorted(set(labels))
    rows = np.arange(len(texts))
    fitted = corpus.fit(rows, np.array([label_list.index(label) for label in labels]), len(label_list))
    model = classifier.Model(
        labels=label_list,
        blocks=fitted.blocks,
        coef=fitted.coef,
        intercept=fitted.intercept,
        temperature=1.0,
        options=options,
        metadata={},
    )
    np.testing.assert_allclose(model.decision_function(texts), corpus.scores(fitted, rows))
    assert model.predict_proba([]) == [] and model.predict([]) == []
    with pytest.raises(TypeError, match="list of texts"):
        model.predict("一条消息")


def test_one_text_scores_as_in_a_batch(model):
    """A filing classifies its one message without sparse matrices (Block.features_of): the margins
    are those of the batch path, including for a text with no known n-gram and one without a subject."""
    texts, _ = messages(4, seed=11)
    texts += [classifier.message_text("", "工厂污水直排河道"), "ＸＹＺ", ""]
    batch = model.decision_function(texts)
    one_by_one = np.vstack([model.decision_function([text]) for text in texts])
    np.testing.assert_allclose(one_by_one, batch, rtol=1e-12, atol=1e-12)
    for text, ranked in zip(texts, model.predict_proba(texts), strict=True):
        alone = model.predict_proba([text])[0]
        assert [label for label, _ in alone] == [label for label, _ in ranked]
        assert [score for _, score in alone] == pytest.approx([score for _, score in ranked], rel=1e-9)
