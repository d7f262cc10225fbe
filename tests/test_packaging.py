"""The library as a project can depend on it: its wheel, metadata, licence, citation and type hints."""

import inspect
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile

import pytest

import nalu_tf
from nalu_tf import maths

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_licence_and_citation_are_there():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    citation = (ROOT / "CITATION.cff").read_text()
    assert "cff-version: 1.2.0" in citation and "type: software" in citation
    assert "Neural Arithmetic Logic Units" in citation and "Trask" in citation  # the paper it reproduces


def _public_callables():
    for name in nalu_tf.__all__:
        value = getattr(nalu_tf, name)
        if inspect.isclass(value):
            for attribute, member in vars(value).items():
                if inspect.isfunction(member) and (attribute == "__init__" or not attribute.startswith("_")):
                    yield f"{name}.{attribute}", member
    for name, value in vars(maths).items():
        if inspect.isfunction(value) and not name.startswith("_") and value.__module__ == maths.__name__:
            yield f"maths.{name}", value


def test_public_api_has_type_hints():
    missing = []
    for name, function in _public_callables():
        signature = inspect.signature(function)
        for parameter in signature.parameters.values():
            plain = parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
            if plain and parameter.name != "self" and parameter.annotation is inspect.Parameter.empty:
                missing.append(f"{name}({parameter.name})")
        if not name.endswith("__init__") and signature.return_annotation is inspect.Signature.empty:
            missing.append(f"{name} -> ?")
    assert not missing, missing


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The library's wheel, built from the checkout with the test environment's setuptools (no download)."""
    out = tmp_path_factory.mktemp("wheel")
    source = tmp_path_factory.mktemp("source")  # a copy, so the build leaves nothing in the checkout
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "nalu_tf", source / "nalu_tf", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--wheel-dir",
            str(out),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=source,
    )
    (path,) = out.glob("nalu_tf-*.whl")
    return path


def test_wheel_holds_the_library_alone_with_its_metadata(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "nalu_tf/py.typed" in names and any(n.endswith("licenses/LICENSE") for n in names)
    assert not any(n.startswith(("experiments/", "tests/", "configs/")) for n in names)
    fields = [line for line in metadata.splitlines() if ": " in line]
    assert "License-Expression: MIT" in fields and "Requires-Python: >=3.11" in fields
    requirements = [line.split(": ", 1)[1] for line in fields if line.startswith("Requires-Dist: ")]
    assert requirements[0] == "keras<4,>=3.10"  # what the library imports; TensorFlow only as an extra
    assert all("extra ==" in line for line in requirements[1:]) and not any("ray" in r for r in requirements)
    assert "Classifier: Typing :: Typed" in fields and any(
        line.startswith("Project-URL: ") for line in fields
    )


def test_wheel_installs_into_a_fresh_environment_and_round_trips_a_model(wheel, tmp_path):
    environment = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(environment)], check=True)
    python = environment / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the checkout: its files stay unseen
    )
    # The fresh environment sees the test environment's packages (Keras, TensorFlow) after its own, so
    # nothing is downloaded and nalu_tf comes from the wheel; the checkout's editable hook is not loaded.
    own = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (pathlib.Path(own) / "test-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    script = textwrap.dedent("""
        import pathlib, sys
        import numpy as np, keras, nalu_tf
        print(nalu_tf.__file__)
        model = keras.Sequential([keras.Input((3,)), nalu_tf.NALU(2), nalu_tf.NAU(1)])
        x = np.random.default_rng(0).uniform(1, 2, size=(4, 3)).astype("float32")
        model.save("model.keras")
        loaded = keras.saving.load_model("model.keras")
        assert np.array_equal(loaded(x).numpy(), model(x).numpy())
        print("round trip ok")
    """)
    result = subprocess.run(
        [python, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    location, status = result.stdout.strip().splitlines()[-2:]
    assert pathlib.Path(location).is_relative_to(environment) and status == "round trip ok"


def test_every_unit_of_the_maths_has_a_layer_and_a_cell_exported():
    """The registries the unit tests are parametrised over cover every unit in ``maths.UNITS``."""
    import nalu_tf
    from nalu_tf import maths

    assert set(nalu_tf.layers.LAYERS) == set(maths.UNITS) == set(nalu_tf.cells.CELLS)
    for registry in (nalu_tf.layers.LAYERS, nalu_tf.cells.CELLS):
        for unit, cls in registry.items():
            assert cls.unit_name == unit and cls.__name__ in nalu_tf.__all__
