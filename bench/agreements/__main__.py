"""Agreement documents on one core: render time, PAdES signing time per signature, sealed
agreements per second, verification time.

A throwaway SQLite database and CA (in a temporary directory) hold one demo case with a
three-signature agreement; nothing touches the development data.

    .venv/bin/python -m bench.agreements [--rounds 20] [--save-pdf sample.pdf]

The README's picture of page 1 is made from the saved sample with
`pdftoppm -png -r 100 -f 1 -l 1 -singlefile sample.pdf docs/screenshots/agreement-page1`.
BENCH_PROFILE=1 prints a profile of rendering and signing first.

"One full agreement" is what the platform does when the last signature is in
(finalize.seal_agreement): render the final PDF, the three signers' signatures, the
committee's seal and the platform seal, each an incremental update.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
_tmp = tempfile.mkdtemp(prefix="odr-bench-agreements-")
os.environ["ODR_DATA_DIR"] = _tmp
os.environ["ODR_PKI_DIR"] = str(Path(_tmp) / "pki")
os.environ.pop("DATABASE_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["DJANGO_DEBUG"] = "1"
os.environ.setdefault("ODR_TASKS_IMMEDIATE", "1")
# The demo case's e-mails go to files and the task log stays quiet: only figures print.
os.environ["ODR_EMAIL_DIR"] = str(Path(_tmp) / "mail")
os.environ["ODR_LOG_LEVEL"] = "WARNING"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from agreements.documents import pki  # noqa: E402
from agreements.documents.finalize import seal_agreement  # noqa: E402
from agreements.documents.pdf import render_agreement_pdf  # noqa: E402
from agreements.documents.verify import verify_pdf  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--save-pdf", metavar="PATH", help="also write the sealed sample agreement there"
    )
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    from tests import factories  # the same builders the tests use

    agreement = factories.agreement_for(
        factories.dispute_in_mediation(), signers=("applicant", "respondent", "mediator")
    )
    pki.ca(), pki.platform_seal(), pki.organisation_key(agreement.dispute.organisation)
    render_agreement_pdf(agreement)  # warm: font parsing, imports

    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        signer = pki.signer_key(agreement.signatures.first().certificate_serial)
        with cProfile.Profile() as prof:
            for i in range(5):
                pki.sign_with(
                    render_agreement_pdf(agreement), signer, field_name=f"P{i}", reason="b"
                )
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)

    pdf = render_agreement_pdf(agreement)
    render = _measure(args.rounds, lambda _i: render_agreement_pdf(agreement))
    signer = pki.signer_key(agreement.signatures.first().certificate_serial)
    signing = _measure(
        args.rounds, lambda i: pki.sign_with(pdf, signer, field_name=f"Bench{i}", reason="b")
    )
    user = agreement.dispute.mediator
    issuing = _measure(
        args.rounds,
        lambda _i: pki.issue_signer_certificate(user=user, agreement=agreement, role="mediator"),
    )
    sealed_box: list[bytes] = []
    full = _measure(args.rounds, lambda _i: sealed_box.append(seal_agreement(agreement)[0]))
    sealed = sealed_box[-1]
    verifying = _measure(
        max(3, args.rounds // 4), lambda _i: verify_pdf(sealed).signatures[-1].ok or sys.exit(1)
    )

    if args.save_pdf:
        Path(args.save_pdf).write_bytes(sealed)
    print(f"agreement PDF: {len(pdf) / 1024:.0f} KiB unsigned, {len(sealed) / 1024:.0f} KiB sealed")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (CPU time is what the work cost)")
    print(f"{'':42}{'CPU median':>12}{'wall median':>13}")
    rows = [
        ("render (人民调解协议书, 3 pages)", render),
        ("one PAdES signature (EC P-256)", signing),
        ("issue a signer certificate", issuing),
        ("full agreement (render + 5 signatures)", full),
        ("verify a sealed agreement (5 signatures)", verifying),
    ]
    for label, (wall, cpu) in rows:
        print(f"{label:42}{_ms(cpu):>12}{_ms(wall):>13}")
    cpu_per_agreement = statistics.median(full[1])
    print(
        f"full agreements per second on one core: {1 / cpu_per_agreement:.1f} (by CPU time), "
        f"{1 / statistics.median(full[0]):.1f} (by wall time)"
    )
    print(
        "(full = render the final PDF, the three signers' PAdES signatures, the committee's "
        "seal and the platform seal, each an incremental update)"
    )


def _ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.1f} ms"


def _measure(rounds: int, fn) -> tuple[list[float], list[float]]:
    wall, cpu = [], []
    for i in range(rounds):
        w, c = time.perf_counter(), time.process_time()
        fn(i)
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return wall, cpu


if __name__ == "__main__":
    main()
