"""Angular heads (helpers.detectors.heads) against the values the ASD toolkit's own losses
(TakuyaFujimura/dcase-asd-toolkit, asdkit/losses/scadacos.py and adaproj.py, commit ed27d82) give
on the same fixed inputs, in float64: 6 embeddings of 4 dimensions, 3 classes of 2 sub-clusters."""
import math

import numpy as np
import pytest
import torch

from helpers.detectors import heads
from helpers.errors import ConfigError

EMBEDDINGS = torch.tensor(np.random.default_rng(0).standard_normal((6, 4)))
CENTRES = torch.tensor(np.random.default_rng(1).standard_normal((6, 4)))  # class-major: row r is class r // 2
TARGET = torch.tensor([0, 1, 2, 0, 1, 2])


def subcluster_adacos(scale: float, dynamic: bool = False) -> heads.SubClusterAdaCos:
    head = heads.SubClusterAdaCos(4, 3, subclusters=2, dynamic=dynamic).double()
    head.centres.data = CENTRES.clone()
    head.scale.fill_(scale)
    return head


def adaproj(scale: float, dynamic: bool = False) -> heads.AdaProj:
    head = heads.AdaProj(4, 3, subclusters=2, dynamic=dynamic).double()
    head.basis.data = CENTRES.clone().view(3, 2, 4)
    head.scale.fill_(scale)
    return head


def test_subcluster_adacos_gives_the_toolkits_loss_and_scale_update():
    assert heads.SubClusterAdaCos(4, 3, subclusters=2).scale.item() == pytest.approx(math.sqrt(2) * math.log(5))
    for scale, loss in ((math.sqrt(2) * math.log(5), 1.4524153403611244), (10.0, 4.848617337387958)):
        assert subcluster_adacos(scale).loss(EMBEDDINGS, TARGET)[0].item() == pytest.approx(loss, rel=1e-12)
    head = subcluster_adacos(math.sqrt(2) * math.log(5), dynamic=True).train()
    loss, _ = head.loss(EMBEDDINGS, TARGET)
    # the toolkit adds 1e-7 to the cosine it divides by, Wilkinghoff's code adds it to the result; this head neither
    assert head.scale.item() == pytest.approx(3.389066999809273, rel=1e-6)
    assert head.scale.item() == pytest.approx(3.389067579095724, rel=1e-6)
    assert loss.item() == pytest.approx(1.8710569556319987, rel=1e-6)
    head.eval().loss(EMBEDDINGS, TARGET)
    assert head.scale.item() == pytest.approx(3.389067, rel=1e-6)  # scoring never moves the scale


def test_a_subcluster_classs_probability_is_the_sum_of_its_centres_probabilities():
    head = subcluster_adacos(5.0)
    every = torch.softmax(5.0 * head.cosines(EMBEDDINGS), dim=1).view(6, 3, 2).sum(dim=2)
    torch.testing.assert_close(torch.softmax(head(EMBEDDINGS), dim=1), every)


def test_adaproj_gives_the_toolkits_loss_and_scale_update():
    for scale, loss in ((math.sqrt(2) * math.log(2), 1.2648792008275656),
                        (math.sqrt(2) * math.log(5), 1.538061477219171), (10.0, 3.931877495326633)):
        assert adaproj(scale).loss(EMBEDDINGS, TARGET)[0].item() == pytest.approx(loss, rel=1e-12)
    head = adaproj(math.sqrt(2) * math.log(2), dynamic=True).train()
    loss, _ = head.loss(EMBEDDINGS, TARGET)
    assert head.scale.item() == pytest.approx(2.281340253333102, rel=1e-6)
    assert loss.item() == pytest.approx(1.5392885169673667, rel=1e-6)


def test_an_embedding_inside_a_classs_span_has_cosine_one_with_it():
    head = adaproj(1.0)
    orthonormal = torch.linalg.qr(torch.tensor(np.random.default_rng(2).standard_normal((4, 2))))[0].T  # [2, 4]
    head.basis.data[1] = orthonormal
    cosines = head.cosines((0.3 * orthonormal[0] - 2.0 * orthonormal[1])[None])
    assert cosines[0, 1].item() == pytest.approx(1.0) and cosines[0].argmax().item() == 1


def test_a_misspelt_head_is_named_with_the_accepted_ones():
    with pytest.raises(ConfigError, match=r"model.head.*'subcluster_adacs'.*did you mean 'subcluster_adacos'.*arcface"):
        heads.head("subcluster_adacs", 8, 3)
