#!/usr/bin/python3
"""export_graphs.py writes the random-weight ONNX test graphs of the project's encoders.

The real ImageNet ResNet50 and all-MiniLM-L6-v2 weights cannot be downloaded on the
project's build machines, so the ONNX loading code (lib/imageenc/resnet50.go,
lib/textenc/minilm.go) is proven on the same graph structures with random weights:
onnx-gomlx on GoMLX against ONNX Runtime (lib/ortref).

Graphs (written atomically under models/testgraphs/, about 100 MB each, never in git):

  resnet50-v1-random.onnx   ResNet50 v1 as the ONNX model zoo's resnet50-v1-12.onnx:
                            opset 12, input "data" [N,3,224,224], Conv/BatchNormalization/
                            Relu/MaxPool/Add/GlobalAveragePool/Flatten/Gemm, output logits
                            [N,1000]. torchvision's resnet50 is v1.5 (stride 2 on the 3x3
                            conv of a bottleneck); the strides are moved back to the first
                            1x1 conv, as in v1 (the zoo model, converted from MXNet Gluon).
  minilm-l6-random.onnx     BERT with all-MiniLM-L6-v2's configuration (6 layers, hidden
                            384, 12 heads, intermediate 1536, vocab 30522, 512 positions),
                            written in plain torch to follow Hugging Face's BertModel graph
                            (word+position+token-type embeddings, LayerNorm, post-LN layers,
                            erf GELU, additive attention mask), opset 14, inputs input_ids,
                            attention_mask, token_type_ids (int64 [batch, sequence]), output
                            last_hidden_state [batch, sequence, 384].
  inception-v3-random.onnx  torchvision's InceptionV3 (no aux head), opset 12, input "data"
                            [N,3,299,299]: a stand-in of the same size as the nsfwjs
                            InceptionV3 for ONNX Runtime speed comparisons (the Keras graph
                            differs in details: biases, padding).

BatchNorm statistics are calibrated on random inputs (so activations stay O(1) through 50
layers, as with trained weights) and exported unfused (training=PRESERVE on an eval model).

Needs Debian's python3-torch, python3-torchvision and python3-onnx (use /usr/bin/python3).
Usage: /usr/bin/python3 lib/ortref/export_graphs.py [--out models/testgraphs] [--force]
"""

import argparse
import math
import os
import sys
import tempfile

import torch
import torch.nn as nn
import torchvision

SEED = 42


def atomic_export(path, export):
    """Runs export(tmp_path) and renames the result to path."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix="." + os.path.basename(path) + ".tmp-")
    os.close(fd)
    try:
        export(tmp)
        import onnx

        onnx.checker.check_model(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def calibrate_batchnorm(model, shape, batches=4):
    """Sets every BatchNorm's running statistics from random inputs, then gives gamma and
    beta random values near (1, 0), so the random network behaves like a trained one."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(*shape))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.1 * torch.randn_like(m.weight))
                m.bias.copy_(0.1 * torch.randn_like(m.bias))
                # Back to the default: exported as ONNX momentum 0.9, the value the zoo
                # model has and the only one onnx-gomlx v0.5.5 accepts (it is unused at inference).
                m.momentum = 0.1
    model.eval()


def resnet50_v1():
    model = torchvision.models.resnet50(weights=None)
    for layer in (model.layer2, model.layer3, model.layer4):
        block = layer[0]
        block.conv1.stride = (2, 2)  # v1: the first 1x1 conv downsamples...
        block.conv2.stride = (1, 1)  # ...not the 3x3 (torchvision's v1.5)
    calibrate_batchnorm(model, (8, 3, 224, 224))
    return model


def export_image_model(model, path, size, opset):
    x = torch.randn(2, 3, size, size)

    def export(tmp):
        torch.onnx.export(
            model, x, tmp,
            input_names=["data"], output_names=["logits"],
            dynamic_axes={"data": {0: "N"}, "logits": {0: "N"}},
            opset_version=opset,
            training=torch.onnx.TrainingMode.PRESERVE,  # keeps BatchNormalization nodes
            do_constant_folding=True,
        )

    atomic_export(path, export)


class BertEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab"], c["hidden"], padding_idx=0)
        self.position_embeddings = nn.Embedding(c["max_pos"], c["hidden"])
        self.token_type_embeddings = nn.Embedding(2, c["hidden"])
        self.LayerNorm = nn.LayerNorm(c["hidden"], eps=1e-12)
        self.register_buffer("position_ids", torch.arange(c["max_pos"]).expand((1, -1)))

    def forward(self, input_ids, token_type_ids):
        seq_length = input_ids.size(1)
        position_ids = self.position_ids[:, 0:seq_length]
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        return self.LayerNorm(embeddings)


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads = c["heads"]
        self.head_size = c["hidden"] // c["heads"]
        self.all_head_size = self.heads * self.head_size
        self.query = nn.Linear(c["hidden"], self.all_head_size)
        self.key = nn.Linear(c["hidden"], self.all_head_size)
        self.value = nn.Linear(c["hidden"], self.all_head_size)

    def transpose_for_scores(self, x):
        new_shape = x.size()[:-1] + (self.heads, self.head_size)
        return x.view(new_shape).permute(0, 2, 1, 3)

    def forward(self, hidden, extended_mask):
        q = self.transpose_for_scores(self.query(hidden))
        k = self.transpose_for_scores(self.key(hidden))
        v = self.transpose_for_scores(self.value(hidden))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_size)
        scores = scores + extended_mask
        probs = nn.functional.softmax(scores, dim=-1)
        context = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        return context.view(context.size()[:-2] + (self.all_head_size,))


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, i = c["hidden"], c["intermediate"]
        self.attention = BertSelfAttention(c)
        self.attention_output = nn.Linear(h, h)
        self.attention_norm = nn.LayerNorm(h, eps=1e-12)
        self.intermediate = nn.Linear(h, i)
        self.output = nn.Linear(i, h)
        self.output_norm = nn.LayerNorm(h, eps=1e-12)

    def forward(self, hidden, extended_mask):
        attn = self.attention_norm(self.attention_output(self.attention(hidden, extended_mask)) + hidden)
        inter = nn.functional.gelu(self.intermediate(attn))  # erf GELU, as HF's "gelu"
        return self.output_norm(self.output(inter) + attn)


class Bert(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = BertEmbeddings(c)
        self.layers = nn.ModuleList([BertLayer(c) for _ in range(c["layers"])])

    def forward(self, input_ids, attention_mask, token_type_ids):
        # HF's get_extended_attention_mask: [B,1,1,S], 0 where attended, dtype min elsewhere.
        extended = attention_mask[:, None, None, :].to(torch.float32)
        extended = (1.0 - extended) * torch.finfo(torch.float32).min
        hidden = self.embeddings(input_ids, token_type_ids)
        for layer in self.layers:
            hidden = layer(hidden, extended)
        return hidden


MINILM = dict(vocab=30522, hidden=384, heads=12, intermediate=1536, layers=6, max_pos=512)


def bert_minilm():
    model = Bert(MINILM)
    # HF's BertPreTrainedModel._init_weights: normal(0, 0.02), zero biases, unit LayerNorms;
    # LayerNorm gains and biases are randomised a little so they are exercised too.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                m.weight.normal_(0.0, 0.02)
            if isinstance(m, nn.Linear):
                m.bias.normal_(0.0, 0.02)
            if isinstance(m, nn.LayerNorm):
                m.weight.copy_(1 + 0.1 * torch.randn_like(m.weight))
                m.bias.copy_(0.1 * torch.randn_like(m.bias))
    model.eval()
    return model


def export_bert(model, path):
    ids = torch.randint(1000, 30000, (2, 9))
    mask = torch.ones(2, 9, dtype=torch.int64)
    mask[1, 6:] = 0
    types = torch.zeros(2, 9, dtype=torch.int64)
    axes = {0: "batch_size", 1: "sequence_length"}

    def export(tmp):
        torch.onnx.export(
            model, (ids, mask, types), tmp,
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                          "last_hidden_state": axes},
            opset_version=14,
            do_constant_folding=True,
        )

    atomic_export(path, export)


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=os.path.join(root, "models", "testgraphs"))
    p.add_argument("--force", action="store_true", help="rewrite graphs that exist")
    p.add_argument("--only", help="comma-separated subset: resnet50,minilm,inception")
    a = p.parse_args()
    torch.set_num_threads(2)
    jobs = [
        ("resnet50", "resnet50-v1-random.onnx", lambda path: export_image_model(resnet50_v1(), path, 224, 12)),
        ("minilm", "minilm-l6-random.onnx", lambda path: export_bert(bert_minilm(), path)),
        ("inception", "inception-v3-random.onnx", lambda path: export_image_model(inception_v3(), path, 299, 12)),
    ]
    only = set(a.only.split(",")) if a.only else None
    for name, file, job in jobs:
        if only and name not in only:
            continue
        path = os.path.join(a.out, file)
        if os.path.exists(path) and not a.force:
            print(f"{path}: exists (--force rewrites it)")
            continue
        torch.manual_seed(SEED)
        job(path)
        print(f"{path}: {os.path.getsize(path):,} bytes")


def inception_v3():
    model = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=True)
    calibrate_batchnorm(model, (4, 3, 299, 299), batches=2)
    return model


if __name__ == "__main__":
    sys.exit(main())
