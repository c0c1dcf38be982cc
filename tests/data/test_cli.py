import time

from shapca.data import load
from shapca.data.__main__ import build_parser, main
from shapca.data.datasets import _load


def test_stats_prints_counts_and_coverage(capsys):
    assert main(["stats", "--datasets", "twitter2015", "jmere"]) == 0
    out = capsys.readouterr().out
    counts_table = out.split("Context coverage")[0]
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in counts_table.splitlines()
            if line.startswith(("tw", "jm"))}
    assert rows[("twitter2015", "train")][:3] == ["4000", "6166", "-"]
    assert rows[("jmere", "test")][:3] == ["475", "1041", "640"]
    coverage = out.split("Context coverage")[1]
    assert "3999/4000" in coverage and "999/1000" in coverage
    assert "none_dropped 974" in out and "135 more entity spans" in out


def test_fetch_command_with_mirror(mirror, tmp_path, capsys):
    assert main(["fetch", "--datasets", "mnre", "--mirror", str(mirror), "--cache", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "22 files present and verified for mnre" in captured.out
    assert "[22/22] ok zefanZhang-cn/CAMIM/CAMIM/data/caption/BLIP_test.txt" in captured.err


def test_images_subcommand_is_wired_for_the_image_sources():
    args = build_parser().parse_args(["images", "--encoder", "efficientnet-lite0", "--images", "d", "--out",
                                      "f.safetensors", "--batch-size", "8"])
    assert (args.encoder, args.images, args.out, args.batch_size) == ("efficientnet-lite0", "d", "f.safetensors", 8)
    assert args.func.__name__ == "main_images_entry"


def test_repeated_load_is_served_from_memory():
    load("mnre", "train")
    hits = _load.cache_info().hits
    start = time.perf_counter()
    again = load("mnre", "train")
    assert time.perf_counter() - start < 0.05 and len(again) == 12247
    assert _load.cache_info().hits == hits + 1


def test_unknown_names_are_refused():
    import pytest
    with pytest.raises(ValueError, match="unknown dataset"):
        load("twitter2016", "train")
    with pytest.raises(ValueError, match="unknown split"):
        load("mnre", "valid")
