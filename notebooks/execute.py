"""Execute explore_results.ipynb over results/ and save it with its outputs, so a reader sees the figures
without running it (make notebook; make reproduce does it after the report)."""

import os
import pathlib

import nbformat
from nbclient import NotebookClient

HERE = pathlib.Path(__file__).resolve().parent


def main():
    path = HERE / "explore_results.ipynb"
    notebook = nbformat.read(path, as_version=4)
    os.environ.setdefault("NALU_RESULTS", str(HERE.parent / "results"))
    # The kernel's own log at ERROR: it warns, on every start, that a local kernel speaks TCP without
    # encryption (true of any kernel started this way, and not a fault); a cell's error is an output.
    client = NotebookClient(
        notebook,
        timeout=600,
        record_timing=False,
        resources={"metadata": {"path": str(HERE)}},
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )
    client.execute()  # record_timing off: the same results give the same file, byte for byte
    errors = [
        o
        for cell in notebook.cells
        if cell.cell_type == "code"
        for o in cell.outputs
        if o.output_type == "error"
    ]
    if errors:
        raise SystemExit(f"error: {path}: a cell failed: {errors[0].get('ename')}: {errors[0].get('evalue')}")
    nbformat.write(notebook, path)
    print(f"notebook: {path.relative_to(HERE.parent)} executed over {os.environ['NALU_RESULTS']}")


if __name__ == "__main__":
    main()
