"""The node's API against its own OpenAPI document: schemathesis on a real ``parley serve``.

Positive and negative data for every operation (examples, coverage, fuzzing) and the
stateful phase, every check. The gate: no server error, no answer the document does not
describe (status, media type, headers, body), no undeclared method answered but by a 405
problem with ``Allow``, no operation that ignores its credentials, and no run that could not
authenticate. The two data checks are reported, not gated (``fuzzing.DATA_CHECKS``).
"""

from __future__ import annotations

from pathlib import Path

from tests.api.fuzzing import fuzz, make_fuzzed_node

# Bounded to stay within ~2-3 minutes on a busy 2-core machine; bench/schemathesis_run.py
# runs longer.
MAX_EXAMPLES = 10
TIMEOUT_S = 420


def test_the_api_answers_as_its_openapi_document_says(tmp_path: Path) -> None:
    node = make_fuzzed_node(tmp_path / "node")
    try:
        server = node.start()
        workdir = tmp_path / "fuzz"
        workdir.mkdir()
        run = fuzz(server, workdir, max_examples=MAX_EXAMPLES, seed=20260205, timeout_s=TIMEOUT_S)
    finally:
        node.kill_all()
    assert run.report, f"schemathesis wrote no report:\n{run.summary()}"
    assert run.report["operations"]["tested"] >= 43, run.summary()
    assert not run.errors(), run.summary()
    assert not run.gated(), run.summary()
    assert "Traceback" not in node.log_text(), node.log_text()
