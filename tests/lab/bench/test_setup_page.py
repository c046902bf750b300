"""The setup page's benchmark part runs end to end on real footage (a short run)."""

from __future__ import annotations

from lab.bench.setup_page import main


def test_a_short_run_writes_its_figures(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--seconds", "3", "--threads", "2", "--rounds", "1"]) == 0
    text = (tmp_path / "SETUP.md").read_text()
    assert "| sensor |" in text and "| setup, page open |" in text
    assert "22.1 MB" in text  # 24 x 480 x 480 x 4 bytes: the shipped model is square
    assert "## Machine" in text and "ai-edge-litert" in text
    out = capsys.readouterr().out
    assert "fps" in out and "wrote" in out
    fps = [
        float(line.split("|")[2].split()[0])
        for line in text.splitlines()
        if line.startswith(("| sensor |", "| setup, page open |"))
    ]
    assert all(value > 0 for value in fps), fps
