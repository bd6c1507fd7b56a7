"""The default's card says which file to ship from the int8 export's own contract: int8 only where it held the floor."""
from __future__ import annotations

from bench.model_card import _fidelity_line, _precision_to_ship
from export.contract import Fidelity


def fidelity(*agreements: float) -> Fidelity:
    sets = [{"held_out": f"set{i}/images", "agreement": a, "images": 50} for i, a in enumerate(agreements)]
    return Fidelity("mask IoU", min(agreements), 0.0, 100, sets[0]["held_out"], 0, sets)


def test_int8_is_named_only_when_every_held_out_set_clears_the_floor():
    assert _precision_to_ship(fidelity(0.99, 0.985)) == "int8"
    assert _precision_to_ship(fidelity(0.99, 0.968)) == "fp16"  # the portraits case of the shipped default
    assert _precision_to_ship(None) == "fp16"  # not measured is not held
    assert "below seg-export's 0.98 floor on set1/images" in _fidelity_line(fidelity(0.99, 0.968))


def test_the_card_says_in_which_stages_davis_val_chose_the_epoch():
    from bench.model_card import _davis_selection

    stages = [{"recipe": {"select_on": ["val", "davis"]}}, {"recipe": {"select_on": ["val"]}}]
    assert _davis_selection(stages).startswith("DAVIS val chose the epoch of stage 1 of 2")
    assert _davis_selection(stages[1:]).startswith("Only CCP val chose epochs")
