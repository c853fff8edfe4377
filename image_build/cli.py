"""``espace image build|flash``: contributed by :func:`image_build.contribute`."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def image() -> None:
    """Build and flash SD images for a site."""


@image.command("build")
@click.option("--site", "site_path", required=True, type=click.Path(dir_okay=False),
              help="The site file baked into the image (editable later on the card).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Directory for the .img, .img.xz, .bmap, SHA256SUMS, manifest.")
@click.option("--variant", type=click.Choice(["pi", "pi-headless", "reduced"]), default="pi",
              show_default=True, help="pi: Raspberry Pi 3B+/4/Zero 2 W (arm64) with the "
              "touchscreen kiosk; pi-headless: the same without the kiosk (no touchscreen); "
              "reduced: the host's architecture without kernel or firmware (CI boots it in "
              "nspawn).")
@click.option("--work-dir", type=click.Path(file_okay=False), help="Scratch space "
              "(default: OUT/work, removed after the build).")
@click.option("--cache-dir", type=click.Path(file_okay=False),
              help="Package cache kept between builds (default ~/.cache/espace-image).")
@click.option("--mirror", default="http://deb.debian.org/debian", show_default=True,
              help="Debian mirror (a snapshot.debian.org URL pins the package versions).")
@click.option("--no-xz", is_flag=True, help="Skip the .img.xz.")
@click.option("--keep-work", is_flag=True, help="Keep the root tree in the work dir.")
@click.option("--dry-run", is_flag=True, help="Print the plan and the checks; build nothing.")
def build(site_path: str, out_dir: str, variant: str, work_dir: str | None,
          cache_dir: str | None, mirror: str, no_xz: bool, keep_work: bool,
          dry_run: bool) -> None:
    """Build an SD image for the site in SITE."""
    from .build import Builder, Options, boot_preflight, preflight

    opts = Options(site_path=Path(site_path), out_dir=Path(out_dir), variant=variant,
                   work_dir=Path(work_dir) if work_dir else None,
                   cache_dir=Path(cache_dir) if cache_dir else None, mirror=mirror,
                   compress=not no_xz, keep_work=keep_work)
    builder = Builder(opts, log=click.echo)
    if dry_run:
        click.echo(builder.plan_text())
        problems = preflight(opts, builder.recipe)
        for p in problems:
            click.echo(f"would stop: {p}")
        if not problems:
            click.echo("checks: OK (tools, emulation, disk space)")
        if builder.recipe.kernel:  # only the Pi images boot under qemu
            for note in boot_preflight():
                click.echo(f"note: {note}")
        return
    builder.run()


@image.command("flash")
@click.argument("img", type=click.Path(exists=True, dir_okay=False))
@click.argument("device", type=click.Path())
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def flash(img: str, device: str, yes: bool) -> None:
    """Write IMG to the card in DEVICE with its block map, then verify it."""
    from .flash import bmap_for, describe, flash_image, image_size, refuse

    info = refuse(Path(device), image_size=image_size(bmap_for(Path(img))))
    click.echo(describe(info))
    if not yes:
        click.confirm(f"Erase everything on {device} and write {Path(img).name}?", abort=True)
    flash_image(Path(img), Path(device), log=click.echo)
