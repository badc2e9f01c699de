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


def _median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:7.1f} ms (min {min(samples) * 1000:.1f})"


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

    render = []
    for _ in range(args.rounds):
        t = time.perf_counter()
        pdf = render_agreement_pdf(agreement)
        render.append(time.perf_counter() - t)

    import cProfile
    import pstats

    if os.environ.get("BENCH_PROFILE"):
        signer = pki.signer_key(agreement.signatures.first().certificate_serial)
        with cProfile.Profile() as prof:
            for i in range(5):
                pki.sign_with(pdf, signer, field_name=f"P{i}", reason="bench")
                render_agreement_pdf(agreement)
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
    signer = pki.signer_key(agreement.signatures.first().certificate_serial)
    signing = []
    for i in range(args.rounds):
        t = time.perf_counter()
        pki.sign_with(pdf, signer, field_name=f"Bench{i}", reason="bench")
        signing.append(time.perf_counter() - t)

    issuing = []
    user = agreement.dispute.mediator
    for _ in range(args.rounds):
        t = time.perf_counter()
        pki.issue_signer_certificate(user=user, agreement=agreement, role="mediator")
        issuing.append(time.perf_counter() - t)

    full = []
    t_all = time.perf_counter()
    for _ in range(args.rounds):
        t = time.perf_counter()
        sealed, _digest = seal_agreement(agreement)
        full.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - t_all

    verifying = []
    for _ in range(max(3, args.rounds // 4)):
        t = time.perf_counter()
        assert verify_pdf(sealed).signatures[-1].ok
        verifying.append(time.perf_counter() - t)

    if args.save_pdf:
        Path(args.save_pdf).write_bytes(sealed)
    print(f"agreement PDF: {len(pdf) / 1024:.0f} KiB unsigned, {len(sealed) / 1024:.0f} KiB sealed")
    print(f"render (人民调解协议书, 3 pages):      {_median_ms(render)}")
    print(f"one PAdES signature (EC P-256):       {_median_ms(signing)}")
    print(f"issue a signer certificate:           {_median_ms(issuing)}")
    print("full agreement (render + 3 signatures + committee seal + platform seal):")
    print(f"                                      {_median_ms(full)}")
    print(f"full agreements per second, one core: {args.rounds / elapsed:7.1f}")
    print(f"verify a sealed agreement (5 signatures): {_median_ms(verifying)}")


if __name__ == "__main__":
    main()
