"""Write the torch-made checkpoints that tests/test_serialization.py loads without torch.

    python scripts/make_torch_fixture.py

tests/fixtures/torch_mlp.pt (zip format) and torch_mlp_legacy.pt (legacy format) hold the
state_dict of a tiny MLP, its Adam state after two steps, inputs with the model's outputs on
them, and tensors of every dtype dark loads, each made from a formula that the tests repeat.
"""
import pathlib

import torch
from torch import nn

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "tests" / "fixtures"


def make_checkpoint() -> dict:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    inputs = torch.randn(5, 4)
    target = torch.randn(5, 2)
    for _ in range(2):
        optimizer.zero_grad()
        ((model(inputs) - target) ** 2).mean().backward()
        optimizer.step()
    with torch.no_grad():
        outputs = model(inputs)
    base = torch.arange(6, dtype=torch.float32).reshape(2, 3) - 2.5
    extras = {
        "parameter": model[2].weight,             # saved through _rebuild_parameter
        "base": base,
        "column": base[:, 1],                     # a view sharing base's storage
        "transposed": base.t(),                   # a non-contiguous view of it
        "bfloat16": base.to(torch.bfloat16),      # exact: the values need few mantissa bits
        "float16": base.to(torch.float16),
        "float64": base.to(torch.float64),
        "int64": torch.arange(-3, 3),
        "int32": torch.arange(-3, 3, dtype=torch.int32),
        "int16": torch.arange(-3, 3, dtype=torch.int16),
        "int8": torch.arange(-3, 3, dtype=torch.int8),
        "uint8": torch.arange(250, 256, dtype=torch.uint8),
        "bool": torch.arange(6) % 2 == 0,
        "scalar": torch.tensor(7),
        "empty": torch.zeros(0, 2),
        "size": torch.Size([2, 3]),
        "dtype": torch.float16,
        "device": torch.device("cpu"),
        "bytes": b"dark",
        "set": {1, 2},
    }
    return {"epoch": 2, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "inputs": inputs, "outputs": outputs, "extras": extras}


def main() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    checkpoint = make_checkpoint()
    torch.save(checkpoint, FIXTURES / "torch_mlp.pt")
    torch.save(checkpoint, FIXTURES / "torch_mlp_legacy.pt", _use_new_zipfile_serialization=False)
    for name in ("torch_mlp.pt", "torch_mlp_legacy.pt"):
        print(f"wrote {FIXTURES / name} ({(FIXTURES / name).stat().st_size} bytes)")


if __name__ == "__main__":
    main()
