"""Corpus cases that reach ``eval``: suite files, flag values, odd images, damaged checkpoints, misbehaving foreign
model classes and hostile labels. Their shared inputs (``{fix}``) are written by ``fixtures.py``."""

from __future__ import annotations

from cases import FAILED_ROW, FAST, REFUSED, Case

EVAL = ["eval", "--data", "{fix}/hr", "--out", "{dir}/r.json", *FAST]
SUITE = '[mine]\ndata = ["{{fix}}/hr"]\nprotocol = {{ {} }}\n[[mine.models]]\nname = "bicubic"\n'
SUITE_EVAL = ["eval", "--suite-file", "{dir}/s.toml", "--suite", "mine", "--out", "{dir}/r.json"]

# protocol key -> values a suite may not hold (each of another type or out of range)
BAD_PROTOCOL = {
    "rounds": ["0", "-1", "2.5", '"5"', "true", "1000000000", "[]"],
    "warmup": ["-1", "0.5", '"x"', "100000000"],
    "timing_size": ["0", "14", "100000000", '"96"', "96.0"],
    "timing_processes": ["0", "-2", "1e3", "100000"],
    "threads": ["0", "-1", "100000", "1.5"],
    "crop": ["-3", "1e9", '"4"', "[4]"],
    "complexity_hw": ["[1]", "[0, 0]", "[256, 256, 3]", "[100000, 100000]", '"256"', "256"],
    "rounded_y": ['"yes"', "1"],
    "half": ['"no"', "0"],
    "runtime_mode": ['"fast"', "3"],
    "speed_reference": ['""', "3", '"no_such_model"'],
    "extra_metrics": ['["lpips_fake"]', '"ssim_rgb"'],
    "no_such_key": ["1"],
}


def suite_cases() -> list[Case]:
    cases = [Case("suite", f"{key} = {value}", [SUITE_EVAL], REFUSED,
                  {"s.toml": SUITE.format(f"{key} = {value}")}, ("s.toml",))
             for key, values in BAD_PROTOCOL.items() for value in values]
    whole = {
        "models not a list": "[mine]\nmodels = 3\n", "data not a list": "[mine]\ndata = 3\n",
        "protocol not a table": '[mine]\nprotocol = 3\n[[mine.models]]\nname = "bicubic"\n',
        "source not a table": '[mine]\n[[mine.models]]\nname = "x"\nsource = 3\n',
        "model without a name": '[mine]\n[[mine.models]]\ncheckpoint = "a.pth"\n',
        "unknown model name": '[mine]\n[[mine.models]]\nname = "no_such_net"\n',
        "model name not a string": '[mine]\n[[mine.models]]\nname = 5\n',
        "not TOML": "[mine\nmodels = ", "empty file": "", "not UTF-8": b"\xff\xfe[mine]",
        "nested deeply": "[mine]\nmodels = " + "[" * 3000 + "]" * 3000 + "\n",
        "over a megabyte": "# " + "x" * 1_100_000 + "\n[mine]\n",
        "no such suite in it": '[other]\n[[other.models]]\nname = "bicubic"\n',
        "a FIFO": "FIFO", "a folder": "DIR",
        "data folder absent": '[mine]\ndata = ["/no/such/folder"]\n[[mine.models]]\nname = "bicubic"\n',
    }
    cases += [Case("suite-file", name, [SUITE_EVAL], REFUSED, {"s.toml": text},
                   ("s.toml",) if text not in ("FIFO", "DIR") else ()) for name, text in whole.items()]
    return cases


FLAGS = [  # (name, argv after `eval --data ... FAST`, or a whole argv; right exit codes)
    ("--rounds 0", ["--models", "bicubic", "--rounds", "0"]), ("--rounds -1", ["--models", "bicubic", "--rounds", "-1"]),
    ("--rounds huge", ["--models", "bicubic", "--rounds", "10000000000"]),
    ("--rounds x", ["--models", "bicubic", "--rounds", "x"]), ("--warmup -1", ["--models", "bicubic", "--warmup", "-1"]),
    ("--timing-size 1", ["--models", "bicubic", "--timing-size", "1"]),
    ("--timing-size huge", ["--models", "bicubic", "--timing-size", "1000000"]),
    ("--threads 0", ["--models", "bicubic", "--threads", "0"]),
    ("--threads 100000", ["--models", "bicubic", "--threads", "100000"]),
    ("--threads -4", ["--models", "bicubic", "--threads", "-4"]),
    ("--timing-processes 0", ["--models", "bicubic", "--timing-processes", "0"]),
    ("--timing-processes 100000", ["--models", "bicubic", "--timing-processes", "100000"]),
    ("--max-pixels 0", ["--models", "bicubic", "--max-pixels", "0"]),
    ("--max-pixels -1", ["--models", "bicubic", "--max-pixels", "-1"]),
    ("--entry-time-limit 0", ["--model", "{fix}/nets.py:Good", "--entry-time-limit", "0"]),
    ("--entry-time-limit nan", ["--model", "{fix}/nets.py:Good", "--entry-time-limit", "nan"]),
    ("--entry-memory-limit 0", ["--model", "{fix}/nets.py:Good", "--entry-memory-limit", "0"]),
    ("--entry-memory-limit inf", ["--model", "{fix}/nets.py:Good", "--entry-memory-limit", "inf"]),
    ("--entry-memory-limit past the machine", ["--model", "{fix}/nets.py:Good", "--entry-memory-limit", "1e9"]),
    ("--shard 0/2", ["--models", "bicubic", "--shard", "0/2"]), ("--shard 3/2", ["--models", "bicubic", "--shard", "3/2"]),
    ("--shard 1/0", ["--models", "bicubic", "--shard", "1/0"]), ("--shard x", ["--models", "bicubic", "--shard", "x"]),
    ("--shard -1/2", ["--models", "bicubic", "--shard", "-1/2"]),
    ("--models unknown", ["--models", "no_such_net"]), ("--models empty", ["--models", ""]),
    ("--models ,,,", ["--models", ",,,"]), ("--metric unknown", ["--models", "bicubic", "--metric", "lpips_fake"]),
    ("--device cuda without one", ["--models", "bicubic", "--device", "cuda"]),
    ("--team without --ntire-repo", ["--team", "0"]),
    ("--ntire-repo absent", ["--ntire-repo", "/no/such/repo", "--team", "0"]),
    ("--ntire-repo a file", ["--ntire-repo", "{fix}/nets.py", "--team", "0"]),
    ("--model-args deep", ["--model", "{fix}/nets.py:Good", "--model-args", "[" * 5000 + "]" * 5000]),
    ("--model-args not JSON", ["--model", "{fix}/nets.py:Good", "--model-args", "{width: 3}"]),
    ("--model-args a list", ["--model", "{fix}/nets.py:Good", "--model-args", "[1]"]),
    ("--model-args huge", ["--model", "{fix}/nets.py:Good", "--model-args", '{"a": "' + "x" * 70000 + '"}']),
    ("--model without a class", ["--model", "{fix}/nets.py"]),
    ("--model file absent", ["--model", "/no/such.py:Net"]),
    ("--model not Python", ["--model", "{fix}/hr/im0.png:Net"]),
    ("--scale 0", ["--model", "{fix}/nets.py:Good", "--scale", "0"]),
    ("--scale 1000", ["--model", "{fix}/nets.py:Good", "--scale", "1000"]),
    ("--data-range 7", ["--model", "{fix}/nets.py:Good", "--data-range", "7"]),
    ("--weights absent", ["--model", "{fix}/nets.py:Good", "--weights", "/no/such.pth"]),
    ("--name without a model", ["--name", "x"]),
]
OTHER_FLAGS = [
    ("--data absent", ["eval", "--models", "bicubic", "--data", "/no/such", "--out", "{dir}/r.json"]),
    ("--data a file", ["eval", "--models", "bicubic", "--data", "{fix}/nets.py", "--out", "{dir}/r.json"]),
    ("--out in a folder that is a file", ["eval", "--models", "bicubic", "--data", "{fix}/hr", "--out",
                                          "{fix}/nets.py/r.json"]),
    ("--out is a folder", ["eval", "--models", "bicubic", "--data", "{fix}/hr", "--out", "{fix}"]),
    ("--speed-threshold nan", ["compare", "{fix}/good.json", "--baseline", "{fix}/good.json", "--speed-threshold", "nan"]),
    ("--speed-threshold inf", ["compare", "{fix}/good.json", "--baseline", "{fix}/good.json", "--speed-threshold", "inf"]),
    ("--speed-threshold -0.1", ["compare", "{fix}/good.json", "--baseline", "{fix}/good.json", "--speed-threshold", "-0.1"]),
    ("--speed-threshold 0", ["compare", "{fix}/good.json", "--baseline", "{fix}/good.json", "--speed-threshold", "0"]),
    ("--ab-rounds 0", ["compare", "{fix}/good.json", "--baseline", "{fix}/good.json", "--ab-rounds", "0"]),
    ("--ab-processes -1", ["compare", "{fix}/good.json", "--baseline", "{fix}/good.json", "--ab-processes", "-1"]),
    ("compare a record absent", ["compare", "/no/r.json", "--baseline", "{fix}/good.json"]),
    ("report format unknown", ["report", "{fix}/good.json", "--format", "xls", "-o", "{dir}/o"]),
    ("merge one shard twice", ["merge", "{fix}/good.json", "{fix}/good.json", "-o", "{dir}/m.json"]),
    ("leaderboard of nothing", ["leaderboard", "-o", "{dir}/b.html"]),
    ("fuse a record", ["fuse", "{fix}/good.json", "-o", "{dir}/f.pth"]),
    ("unknown command", ["frobnicate"]),
]


def flag_cases() -> list[Case]:
    return ([Case("flag", name, [[*EVAL, *argv]], REFUSED) for name, argv in FLAGS]
            + [Case("flag", name, [argv], REFUSED) for name, argv in OTHER_FLAGS])


# image file -> why it is odd; each lies beside one good image in its own --data folder
IMAGES = ["empty.png", "truncated.png", "text.png", "one_pixel.png", "three_pixels.png", "gray.png", "rgba.png",
          "sixteen_bit.png", "bomb_header.png", "huge_header.png", "jpeg_named.png", "zero_link.png", "loop_link.png",
          "folder.png", "odd_size.png", "nan.tiff", "two_frames.gif"]
# a reader may take these (a .gif is not an image extension here: it is left out like any other file)
CONVERTIBLE = {"gray.png", "rgba.png", "sixteen_bit.png", "jpeg_named.png", "odd_size.png", "two_frames.gif"}


def image_cases() -> list[Case]:
    cases = [Case("image", name, [["eval", "--models", "bicubic", "--data", f"{{fix}}/img/{name}", "--out",
                                   "{dir}/r.json"]], (0, 2) if name in CONVERTIBLE else REFUSED, record="r.json")
             for name in IMAGES]
    cases.append(Case("image", "a folder without images", [["eval", "--models", "bicubic", "--data", "{fix}/img/none",
                                                            "--out", "{dir}/r.json"]], REFUSED))
    return cases


CHECKPOINTS = ["truncated", "not_a_zip", "empty", "pickled_object", "wrong_keys", "nan_weights", "int_weights",
               "wrong_shape", "negative_widths", "huge_widths", "overrides_list", "widths_text", "state_in_list",
               "a_record"]


def checkpoint_cases() -> list[Case]:
    return [Case("checkpoint", name, [["eval", "--models", f"{{fix}}/ckpt/{name}.pth", "--data", "{fix}/hr",
                                       "--out", "{dir}/r.json", *FAST]], REFUSED, unchanged=())
            for name in CHECKPOINTS]


# class in fixtures.NETS -> (extra flags, right exit codes): a misbehaving forward is a failed row (exit 4) with
# the good model beside it still measured; one that only acts oddly (chdir, prints) is measured as usual
ODD = (0,)
FOREIGN = {"Raises": ([], FAILED_ROW), "Tuple": ([], FAILED_ROW), "OneChannel": ([], FAILED_ROW),
           "FourChannel": ([], FAILED_ROW), "Batch2": ([], FAILED_ROW), "WrongSize": ([], FAILED_ROW),
           "NaNOutput": ([], FAILED_ROW), "ReturnsNumpy": ([], FAILED_ROW), "ReturnsNone": ([], FAILED_ROW),
           "SysExit": ([], FAILED_ROW), "OsExit": ([], FAILED_ROW), "Segfault": ([], FAILED_ROW),
           "Sleeps": (["--entry-time-limit", "30"], FAILED_ROW), "Allocates": (["--entry-memory-limit", "4"], FAILED_ROW),
           "InitRaises": ([], FAILED_ROW), "NotAModule": ([], FAILED_ROW), "NoSuchClass": ([], FAILED_ROW),
           "RaisesAtComplexity": ([], FAILED_ROW), "ChangesDirectory": ([], ODD), "PrintsALot": ([], ODD),
           "ExitsAtImport": (["--module", "exits_at_import.py"], FAILED_ROW),
           "RaisesAtImport": (["--module", "raises_at_import.py"], FAILED_ROW)}


def foreign_cases() -> list[Case]:
    cases = []
    for cls, (extra, expect) in FOREIGN.items():
        module = extra[1] if extra[:1] == ["--module"] else "nets.py"
        flags = [] if extra[:1] == ["--module"] else extra
        cases.append(Case("foreign", cls, [["eval", "--model", f"{{fix}}/{module}:{cls}", *flags, "--model",
                                            "{fix}/nets.py:Good", "--name", "good", "--data", "{fix}/hr", "--out",
                                            "{dir}/r.json", *FAST]], expect, record="r.json"))
    cases.append(Case("foreign", "Good (control)", [["eval", "--model", "{fix}/nets.py:Good", "--data", "{fix}/hr",
                                                     "--out", "{dir}/r.json", *FAST]], (0,), record="r.json"))
    return cases


LABELS = ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "<script>alert(1)</script>", "a|b|c", "<b>bold</b>", "x" * 300,
          "tab\there", "{{ 7*7 }}", "$\\frac{$", "‮evil", "back\\slash", "*emph*", "[link](javascript:x)"]
UNSAFE = {"<script>alert(1)</script>": ("<script>alert(1)",), "<b>bold</b>": ("<b>bold",)}


def label_cases() -> list[Case]:
    cases = []
    for i, label in enumerate(LABELS):
        fmt = ("csv", "md", "html")[i % 3]
        out = f"{{dir}}/t.{fmt}"
        render = ["report", "{dir}/r.json", "-o", out] + (["--format", fmt] if fmt != "html" else [])
        cases.append(Case("label", f"{label[:40]!r} in {fmt}", [
            ["eval", "--models", "bicubic", "--name", label, "--data", "{fix}/hr", "--out", "{dir}/r.json", *FAST],
            render], (0, 2), record="", absent=UNSAFE.get(label, ()) if fmt != "csv" else ("\n=1+2", ",=1+2")))  # HTML in a CSV cell is text
    cases.append(Case("label", "empty label (keeps the default, as documented)",
                      [["eval", "--models", "bicubic", "--name", "", "--data", "{fix}/hr", "--out", "{dir}/r.json",
                        *FAST]], (0, 2)))
    cases.append(Case("label", "newline in a label", [["eval", "--models", "bicubic", "--name", "a\nb", "--data",
                                                        "{fix}/hr", "--out", "{dir}/r.json", *FAST]], (0, 2)))
    return cases
