"""``drain device export``: the files the web app needs to solve on the phone itself, from the Python data."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import typer

from drain.errors import InputError


def export(
    folder: Path | None = typer.Argument(None, help="Where to write (default: the folder `drain serve` sends "
                                         "to phones, $DRAIN_DEVICE_DIR or DRAIN's cache)."),
    phone_model: Path | None = typer.Option(None, "--phone-model", help="The merged GGUF from `drain model "
                                            "phone`, linked (or copied) into the folder as drain-phone.gguf."),
) -> None:
    """Write the on-device data (versioned JSON and float16 vectors) and, with --phone-model, the model."""
    from drain.device.bundle import PHONE_FILE, default_device_dir
    from drain.device.export import build_export, write_export

    target = folder or default_device_dir()
    if target.exists() and not target.is_dir():
        raise InputError(f"{target} is a file: give a folder to export into")
    if phone_model is not None and (not phone_model.is_file() or phone_model.read_bytes()[:4] != b"GGUF"):
        raise InputError(f"--phone-model {phone_model}: not a GGUF file (make one with `drain model phone`)")
    built = build_export()
    written = write_export(target, built)
    if phone_model is not None:
        destination = target / PHONE_FILE
        if destination.resolve() != phone_model.resolve():
            destination.unlink(missing_ok=True)
            try:
                os.link(phone_model, destination)
            except OSError:
                shutil.copyfile(phone_model, destination)
        written.append(destination)
    sizes = ", ".join(f"{path.name} {path.stat().st_size / 1e6:.1f} MB" for path in written)
    typer.echo(f"wrote {target}: {sizes} (data format {built.data['format']}, digest {built.digest})")


def register(app: typer.Typer) -> None:
    """Add ``drain device`` and its commands to ``app``."""
    device_app = typer.Typer(name="device", help="DRAIN on the phone itself: the data and models the web app "
                             "runs offline.", no_args_is_help=True, rich_markup_mode=None)
    device_app.command("export")(export)
    app.add_typer(device_app, name="device")
