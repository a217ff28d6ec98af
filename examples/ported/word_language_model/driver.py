"""A tiny driver of pytorch/examples' word_language_model (model.py and data.py taken from
github.com/pytorch/examples at commit 77f55b9, changed only in their import lines:
``import torch`` -> ``import dark as torch`` and so on).

It trains as the example's main.py does (batchify, bptt slices, NLLLoss, clip_grad_norm_,
plain SGD by ``p.data.add_(p.grad, alpha=-lr)``) for a few steps on a small text it can
generate itself, and prints each step's loss and the validation loss:

    python driver.py --generate-text corpus --data corpus --model Transformer --steps 50

The loop functions take the tensor library as their first argument, so that the same code
runs dark (here) and torch (the parity test runs it with the upstream model.py)."""
import argparse
import math
import os
import random
import sys

import dark

import data
from model import RNNModel, TransformerModel

WORDS = ("the a one some every cat dog bird fish child teacher robot farmer sees likes eats "
         "finds follows chases big small red quick lazy happy near under over with").split()


def make_text(folder: str, seed: int = 0, lines: tuple = (300, 40, 40)) -> None:
    """train.txt, valid.txt and test.txt of short sentences from a tiny grammar
    (determiner adjective? noun verb determiner noun (preposition determiner noun)?)."""
    rng = random.Random(seed)
    det, noun, verb = WORDS[:5], WORDS[5:13], WORDS[13:18]
    adj, prep = WORDS[18:24], WORDS[24:]

    def phrase():
        words = [rng.choice(det)]
        if rng.random() < 0.4:
            words.append(rng.choice(adj))
        return words + [rng.choice(noun)]

    os.makedirs(folder, exist_ok=True)
    for name, count in zip(("train", "valid", "test"), lines):
        with open(os.path.join(folder, f"{name}.txt"), "w", encoding="utf8") as file:
            for _ in range(count):
                words = phrase() + [rng.choice(verb)] + phrase()
                if rng.random() < 0.3:
                    words += [rng.choice(prep)] + phrase()
                file.write(" " + " ".join(words) + " . \n")


def batchify(torch, data, bsz, device="cpu"):
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    data = data.view(bsz, -1).t().contiguous()
    return data.to(device)


def get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i:i + seq_len]
    target = source[i + 1:i + 1 + seq_len].view(-1)
    return data, target


def repackage_hidden(torch, h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(torch, v) for v in h)


def build_model(model_module, args, ntokens):
    if args.model == "Transformer":
        return model_module.TransformerModel(ntokens, args.emsize, args.nhead, args.nhid,
                                             args.nlayers, args.dropout)
    return model_module.RNNModel(args.model, ntokens, args.emsize, args.nhid, args.nlayers,
                                 args.dropout, args.tied)


def train_steps(torch, model, train_data, ntokens, args, steps):
    """main.py's train() for ``steps`` batches (wrapping around the data): the losses."""
    model.train()
    criterion = torch.nn.NLLLoss()
    losses = []
    hidden = None if args.model == "Transformer" else model.init_hidden(args.batch_size)
    starts = list(range(0, train_data.size(0) - 1, args.bptt))
    for step in range(steps):
        i = starts[step % len(starts)]
        data, targets = get_batch(train_data, i, args.bptt)
        model.zero_grad()
        if args.model == "Transformer":
            output = model(data)
            output = output.view(-1, ntokens)
        else:
            if i == 0:
                hidden = model.init_hidden(args.batch_size)
            hidden = repackage_hidden(torch, hidden)
            output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-args.lr)
        losses.append(loss.item())
    return losses


def evaluate(torch, model, data_source, ntokens, args, batch_size):
    model.eval()
    criterion = torch.nn.NLLLoss()
    total_loss = 0.0
    if args.model != "Transformer":
        hidden = model.init_hidden(batch_size)
    with torch.no_grad():
        for i in range(0, data_source.size(0) - 1, args.bptt):
            data, targets = get_batch(data_source, i, args.bptt)
            if args.model == "Transformer":
                output = model(data).view(-1, ntokens)
            else:
                output, hidden = model(data, hidden)
                hidden = repackage_hidden(torch, hidden)
            total_loss += len(data) * criterion(output, targets).item()
    return total_loss / (len(data_source) - 1)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="word_language_model (ported to dark), "
                                                 "a few training steps")
    parser.add_argument("--data", type=str, default="./corpus")
    parser.add_argument("--generate-text", type=str, default="",
                        help="first write a small generated corpus into this folder")
    parser.add_argument("--model", type=str, default="LSTM",
                        help="RNN_TANH, RNN_RELU, LSTM, GRU or Transformer")
    parser.add_argument("--emsize", type=int, default=32)
    parser.add_argument("--nhid", type=int, default=32)
    parser.add_argument("--nlayers", type=int, default=2)
    parser.add_argument("--nhead", type=int, default=2)
    parser.add_argument("--lr", type=float, default=5.0)
    parser.add_argument("--clip", type=float, default=0.25)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--bptt", type=int, default=12)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--tied", action="store_true")
    parser.add_argument("--seed", type=int, default=1111)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.generate_text:
        make_text(args.generate_text)
    dark.manual_seed(args.seed)
    corpus = data.Corpus(args.data)
    ntokens = len(corpus.dictionary)
    train_data = batchify(dark, corpus.train, args.batch_size)
    val_data = batchify(dark, corpus.valid, 4)
    if args.model == "Transformer":
        model = TransformerModel(ntokens, args.emsize, args.nhead, args.nhid, args.nlayers,
                                 args.dropout)
    else:
        model = RNNModel(args.model, ntokens, args.emsize, args.nhid, args.nlayers,
                         args.dropout, args.tied)
    losses = train_steps(dark, model, train_data, ntokens, args, args.steps)
    for step, loss in enumerate(losses, 1):
        print(f"| step {step:3d} | loss {loss:.6f}")
    val_loss = evaluate(dark, model, val_data, ntokens, args, 4)
    print(f"| {args.model} | {ntokens} words | valid loss {val_loss:.4f} | "
          f"valid ppl {math.exp(val_loss):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
