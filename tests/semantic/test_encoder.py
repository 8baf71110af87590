"""The encoder the package ships (no download): one vector space for the four languages."""

from __future__ import annotations

import numpy as np

from sportello.semantic import encoder


def test_the_shipped_model_embeds_offline_into_unit_vectors():
    vectors = encoder.embed(["The parcel never arrived", "Il pacco non è mai arrivato", ""])
    assert vectors.shape == (3, encoder.DIM) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_a_sentence_is_closer_to_its_translation_than_to_another_subject():
    en, de, bg, other = encoder.embed(
        ["I was charged twice this month", "Mir wurde diesen Monat zweimal abgebucht",
         "Таксуваха ме два пъти този месец", "How do I change the colour of the app?"]
    )  # fmt: skip
    assert en @ de > en @ other + 0.2
    assert en @ bg > en @ other + 0.1  # Bulgarian is the model's weakest language (0.24 against 0.08)


def test_packing_to_int8_moves_the_cosine_by_less_than_a_hundredth():
    a, b = encoder.embed(["Reset link expired", "The password reset email link does not work"])
    packed = encoder.unpack(encoder.pack(a)) @ encoder.unpack(encoder.pack(b))
    assert len(encoder.pack(a)) == encoder.DIM and abs(packed - a @ b) < 0.01


def test_without_the_package_it_says_so(no_encoder):
    assert not encoder.available()
