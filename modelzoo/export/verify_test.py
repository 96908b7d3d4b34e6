import numpy as np
import pytest

from modelzoo.export.verify import VerifyError, compare_outputs


def expected():
    return {
        "probabilities": np.float32([[0.5, 0.5], [0.9, 0.1]]),
        "class_ids": np.int64([0, 0]),
        "labels": np.asarray([b"a", b"a"], object),
    }


def test_a_class_id_may_differ_only_where_its_scores_are_tied():
    served = dict(expected(), class_ids=np.int64([1, 0]),
                  labels=np.asarray([b"b", b"a"], object))
    compare_outputs(served, expected(), rtol=1e-5, atol=1e-6)  # row 0 is a tie: rounding decides
    wrong = dict(expected(), class_ids=np.int64([0, 1]))
    with pytest.raises(VerifyError, match=r"output 'class_ids' differs .*first difference at \((np.int64\()?1\)?,\)"):
        compare_outputs(wrong, expected(), rtol=1e-5, atol=1e-6)


def test_without_scores_discrete_outputs_must_be_equal():
    want = {"class_ids": np.int64([0, 0])}
    with pytest.raises(VerifyError, match="class_ids"):
        compare_outputs({"class_ids": np.int64([1, 0])}, want, rtol=1e-5, atol=1e-6)
