"""The phone file: the DRAIN adapter merged into the base as one quantized GGUF, checked in llama.cpp."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drain.adapters import shipped_adapter
from tests.helpers import HAS_MODEL

pytestmark = [pytest.mark.model,
              pytest.mark.skipif(not HAS_MODEL or shipped_adapter() is None, reason="needs the model and adapter")]


@pytest.fixture(scope="module")
def phone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from drain.cli import main

    out = tmp_path_factory.mktemp("phone") / "drain-phone.gguf"
    with pytest.raises(SystemExit) as exit_:
        main(["model", "phone", "-o", str(out), "--quant", "q8_0"])
    assert exit_.value.code == 0
    return out


def test_the_phone_file_is_one_checked_gguf_under_the_limit(phone: Path) -> None:
    report = json.loads(phone.with_name(phone.name + ".check.json").read_text())
    assert report["passed"] and report["size_mb"] <= 150
    assert report["adapter_effect"] > 1.0  # the adapter really changes the model, so the check means something
    assert report["merged_vs_adapter"] <= report["tolerance"] < report["adapter_effect"]
    assert phone.read_bytes()[:4] == b"GGUF"


async def test_the_phone_file_runs_alone_and_answers_a_step(phone: Path) -> None:
    from drain.backends.base import SamplingOptions
    from drain.backends.embedded import EmbeddedBackend
    from drain.prompts import PromptLibrary
    from drain.steps import frame

    request = frame.build(PromptLibrary(), "leaking basement on budget")
    backend = EmbeddedBackend(model=phone, adapter=False, slots=1, context_per_slot=1024, threads=1)
    try:
        reply = await backend.complete(request.messages, schema=request.schema,
                                       options=SamplingOptions(max_tokens=160))
    finally:
        await backend.aclose()
    assert request.reply_model.model_validate_json(reply.text)


def test_a_wrong_merge_fails_the_check(tmp_path: Path) -> None:
    import gguf

    from drain.backends.embedded import default_model_path
    from drain.training.phone_gguf import merge_adapter_gguf, probe_prompts, verify_merged

    reader = gguf.GGUFReader(str(shipped_adapter()))
    wrong = tmp_path / "wrong-alpha.gguf"  # the same adapter, scaled 4x: what a wrong alpha would merge
    writer = gguf.GGUFWriter(str(wrong), arch="llama")
    for item in reader.fields.values():
        if item.name.startswith("GGUF.") or item.name == "general.architecture":
            continue
        value = item.contents() * 4 if item.name == "adapter.lora.alpha" else item.contents()
        array = item.types[0] == gguf.GGUFValueType.ARRAY
        writer.add_key_value(item.name, value, item.types[0], sub_type=item.types[-1] if array else None)
    for tensor in reader.tensors:
        writer.add_tensor(tensor.name, tensor.data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    merged = merge_adapter_gguf(default_model_path(), wrong, tmp_path / "merged.gguf")
    report = verify_merged(merged, default_model_path(), shipped_adapter(), probe_prompts(), quant="q8_0",
                           workdir=tmp_path)
    assert not report.passed and report.merged_vs_adapter > report.tolerance
