"""Stream TSG + DSG shards into torch-geometric batches, one shard at a time.

A shard's TSG file (captions, small) is read whole; its DSG file (keyframe JPEGs, large) is read in record batches
and joined to the TSG rows by sample_id. Samples whose TSG or DSG row has status "error" are skipped and counted.
Each sample becomes two graphs:
    text  (TextGraph):  node_text, node_kind [n], edge_index [2, e], edge_kind [e], pe [n, 2k],
                        subject_index / object_index [2, r] (relation node, its subject / object node)
    video (VideoGraph): frames [1, T, 3, S, S], frame_mask [1, T], frame [n], track [n], box [n, 4],
                        object_text (attributes + class name), edge_index [2, e] + edge_predicate (relations),
                        unary_index [u] + unary_predicate ("appears", "moves left"), link_index [2, l]
"""

import io
import random
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
from PIL import Image
from torch_geometric.data import Batch, Data

from model.graph_encoder import laplacian_pe
from schemas import dsg, manifest, tsg
from schemas.common import STATUS_OK

NODE_KINDS = tsg.NODE_KINDS
EDGE_KINDS = tsg.EDGE_KINDS
PE_SIZE = 4


class TextGraph(Data):
    def __inc__(self, key, value, *args, **kwargs):
        if key in ("subject_index", "object_index"):
            return self.num_nodes
        return super().__inc__(key, value, *args, **kwargs)


def relation_objects(text) -> torch.Tensor:
    """The object node of every node of a TextGraph/Batch that is a relation with an object, else -1 -> [N]."""
    object_of = torch.full((text.num_nodes,), -1, dtype=torch.long, device=text.object_index.device)
    object_of[text.object_index[0]] = text.object_index[1]
    return object_of


class VideoGraph(Data):
    def __inc__(self, key, value, *args, **kwargs):
        if key in ("unary_index", "link_index"):
            return self.num_nodes
        return super().__inc__(key, value, *args, **kwargs)

    def __cat_dim__(self, key, value, *args, **kwargs):
        if key == "unary_index":
            return 0
        return super().__cat_dim__(key, value, *args, **kwargs)


def check_shards(folder: str | Path) -> dict:
    """Read the manifest and check every shard file's schema version against this code's; return the manifest."""
    folder = Path(folder)
    document = manifest.read(folder)
    for shard in document["shards"]:
        for name, module in (("tsg", tsg), ("dsg", dsg)):
            path = folder / shard[f"{name}_path"]
            if not path.is_file():
                raise FileNotFoundError(f"Shard file {path} listed in {folder / manifest.FILENAME} is missing; "
                                        "rebuild the shards (make build-graphs) or fix the folder.")
            metadata = pq.read_schema(path).metadata or {}
            found = metadata.get(b"finsta.schema_version", b"<none>").decode()
            if found != module.SCHEMA_VERSION:
                raise ValueError(f"{path}: {name} schema version {found}, this code reads {module.SCHEMA_VERSION}. "
                                 "Rebuild the shards with this version (make build-graphs ... --overwrite) or install "
                                 "the finsta-graphs version that wrote them.")
    return document


def decode_keyframes(keyframes: list[bytes], size: int) -> torch.Tensor:
    """JPEG bytes -> float frames [T, 3, size, size] in [0, 1]."""
    images = []
    for data in keyframes:
        image = Image.open(io.BytesIO(data))
        image.draft("RGB", (size, size))  # JPEG decodes at 1/2, 1/4 or 1/8 scale when that still covers `size`
        images.append(np.asarray(image.convert("RGB").resize((size, size), Image.BILINEAR)))
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0


def object_phrases(nodes: list[dict], edges: list[dict], new_index: dict) -> list[str]:
    """Each node's text, object nodes prefixed by their attributes ("red circle"): what HSG grounding compares."""
    phrases = [n["text"] for n in nodes]
    for e in edges:
        if e["kind"] == "attribute":
            source = new_index[e["source"]]
            phrases[source] = f"{nodes[new_index[e['target']]]['text']} {phrases[source]}"
    return phrases


def text_graph(row: dict, use_modifiers: bool = True) -> TextGraph:
    """A TSG row -> TextGraph; without modifiers their nodes and edges are dropped (the -modifier ablation)."""
    nodes = [n for n in row["nodes"] if use_modifiers or n["kind"] != "modifier"]
    keep = [i for i, n in enumerate(row["nodes"]) if use_modifiers or n["kind"] != "modifier"]
    new_index = {old: new for new, old in enumerate(keep)}
    edges = [e for e in row["edges"] if e["source"] in new_index and e["target"] in new_index]
    edge_index = torch.tensor([[new_index[e["source"]] for e in edges], [new_index[e["target"]] for e in edges]],
                              dtype=torch.long).view(2, -1)
    pairs = {"subject": [], "object": []}
    for e in edges:
        if e["kind"] == "subject":
            pairs["subject"].append((new_index[e["target"]], new_index[e["source"]]))
        elif e["kind"] == "object":
            pairs["object"].append((new_index[e["source"]], new_index[e["target"]]))
    return TextGraph(
        num_nodes=len(nodes),
        node_text=[n["text"] for n in nodes],
        node_phrase=object_phrases(nodes, edges, new_index),
        node_kind=torch.tensor([NODE_KINDS.index(n["kind"]) for n in nodes], dtype=torch.long),
        edge_index=edge_index,
        edge_kind=torch.tensor([EDGE_KINDS.index(e["kind"]) for e in edges], dtype=torch.long),
        pe=laplacian_pe(edge_index, len(nodes), PE_SIZE),
        subject_index=torch.tensor(pairs["subject"], dtype=torch.long).view(-1, 2).t(),
        object_index=torch.tensor(pairs["object"], dtype=torch.long).view(-1, 2).t(),
        caption=row["caption"],
        sample_id=row["sample_id"],
    )


def video_graph(row: dict, image_size: int, num_frames: int) -> VideoGraph:
    """A DSG row -> VideoGraph with keyframes decoded and padded to `num_frames` (extra keyframes are dropped)."""
    kept = min(len(row["frame_times"]), num_frames)
    keep = [i for i, o in enumerate(row["objects"]) if o["frame"] < kept]
    new_index = {old: new for new, old in enumerate(keep)}
    objects = [row["objects"][i] for i in keep]
    relations = [r for r in row["relations"] if r["subject"] in new_index
                 and (r["object"] is None or r["object"] in new_index)]
    binary = [r for r in relations if r["object"] is not None]
    unary = [r for r in relations if r["object"] is None]
    links = [li for li in row["temporal_links"] if li["source"] in new_index and li["target"] in new_index]
    frames = torch.zeros(1, num_frames, 3, image_size, image_size)
    frames[0, :kept] = decode_keyframes(row["keyframes"][:kept], image_size)
    return VideoGraph(
        num_nodes=len(objects),
        frames=frames,
        frame_mask=(torch.arange(num_frames) < kept).unsqueeze(0),
        frame=torch.tensor([o["frame"] for o in objects], dtype=torch.long),
        track=torch.tensor([o["track_id"] for o in objects], dtype=torch.long),
        box=torch.tensor([o["box"] for o in objects], dtype=torch.float32).view(-1, 4),
        object_text=[" ".join([*(o["attributes"] or []), o["class_name"]]) for o in objects],
        edge_index=torch.tensor([[new_index[r["subject"]] for r in binary], [new_index[r["object"]] for r in binary]],
                                dtype=torch.long).view(2, -1),
        edge_predicate=[r["predicate"] for r in binary],
        unary_index=torch.tensor([new_index[r["subject"]] for r in unary], dtype=torch.long),
        unary_predicate=[r["predicate"] for r in unary],
        link_index=torch.tensor([[new_index[li["source"]] for li in links], [new_index[li["target"]] for li in links]],
                                dtype=torch.long).view(2, -1),
        sample_id=row["sample_id"],
    )


def collate(pairs: list[tuple[TextGraph, VideoGraph]]) -> tuple[Batch, Batch]:
    """A list of (text, video) graphs -> (text Batch, video Batch); the i-th text pairs with the i-th video.

    Any TSG may pair with any DSG here: a compositional benchmark pairs one clip with negative captions.
    """
    return Batch.from_data_list([p[0] for p in pairs]), Batch.from_data_list([p[1] for p in pairs])


def flat(values) -> list:
    """Batch keeps a list attribute as one list per graph; the model wants one flat list."""
    return [v for graph in values for v in graph]


class ShardStream(torch.utils.data.IterableDataset):
    """Samples of one split as (TextGraph, VideoGraph), streamed shard by shard; never a whole dataset in memory.

    Rows are striped across Ray Train workers (rank, world_size) and DataLoader workers; with `shuffle`, the shard
    order and a buffer of samples are shuffled anew each epoch (call set_epoch). With `repeat`, one iteration runs
    epoch after epoch without end, so DataLoader workers are not restarted per epoch.
    """

    def __init__(self, folder: str | Path, split: str, image_size: int = 32, num_frames: int = 8,
                 use_modifiers: bool = True, shuffle: bool = False, seed: int = 0, rank: int = 0,
                 world_size: int = 1, shuffle_buffer: int = 256, read_batch_rows: int = 64, repeat: bool = False):
        super().__init__()
        self.folder = Path(folder)
        self.manifest = check_shards(self.folder)
        self.split, self.image_size, self.num_frames = split, image_size, num_frames
        self.use_modifiers, self.shuffle, self.seed = use_modifiers, shuffle, seed
        self.rank, self.world_size = rank, world_size
        self.shuffle_buffer, self.read_batch_rows = shuffle_buffer, read_batch_rows
        self.epoch, self.repeat = 0, repeat
        self.skipped = {"error": 0}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def readers(self) -> tuple[int, int]:
        """(number of readers, this reader): Ray Train workers x DataLoader workers."""
        info = torch.utils.data.get_worker_info()
        if info is None:
            return self.world_size, self.rank
        return self.world_size * info.num_workers, self.rank * info.num_workers + info.id

    def my_shards(self) -> tuple[list[dict], int, int]:
        """The shards in this epoch's order and this reader's row stripe (every `stride`-th row from `offset`).

        Every reader reads every shard and keeps one row in `readers`: splits stay balanced across Ray Train workers
        however the rows of a split fall into shards (reading is cheap; decoding, done for kept rows only, is not)."""
        shards = list(self.manifest["shards"])
        if self.shuffle:
            random.Random(self.seed + self.epoch).shuffle(shards)
        readers, reader = self.readers()
        return shards, readers, reader

    def rows(self):
        """(tsg_row, dsg_row) of this split with both rows ok; error rows are counted in self.skipped."""
        shards, stride, offset = self.my_shards()
        position = -1
        for shard in shards:
            texts = pq.read_table(self.folder / shard["tsg_path"]).to_pylist()
            texts = {r["sample_id"]: r for r in texts if r["split"] == self.split}
            skipped = 0
            dsg_file = pq.ParquetFile(self.folder / shard["dsg_path"])
            for record_batch in dsg_file.iter_batches(batch_size=self.read_batch_rows):
                for video in record_batch.to_pylist():
                    text = texts.get(video["sample_id"])
                    if video["split"] != self.split or text is None:
                        continue
                    position += 1
                    if position % stride != offset:
                        continue
                    if text["status"] != STATUS_OK or video["status"] != STATUS_OK or not video["keyframes"]:
                        skipped += 1
                        continue
                    yield text, video
            if skipped:
                self.skipped["error"] += skipped
                print(f"data: {shard['shard']} ({self.split}): skipped {skipped} sample(s) with status 'error' "
                      "or no keyframes", flush=True)

    def __iter__(self):
        yield from self.one_epoch()
        while self.repeat:
            self.epoch += 1
            yield from self.one_epoch()

    def one_epoch(self):
        rng = random.Random(self.seed + self.epoch + 1000 * self.rank)
        buffer = []
        for text, video in self.rows():
            pair = (text_graph(text, self.use_modifiers), video_graph(video, self.image_size, self.num_frames))
            if not self.shuffle:
                yield pair
                continue
            buffer.append(pair)
            if len(buffer) >= self.shuffle_buffer:
                yield buffer.pop(rng.randrange(len(buffer)))
        rng.shuffle(buffer)
        yield from buffer


def loader(stream: ShardStream, batch_size: int, num_workers: int = 0,
           drop_last: bool = False) -> torch.utils.data.DataLoader:
    """Batches of collated pairs; training drops an epoch's last partial batch (a batch of one pair has no negative,
    its contrastive losses are 0, and the step is wasted)."""
    return torch.utils.data.DataLoader(stream, batch_size=batch_size, collate_fn=collate, num_workers=num_workers,
                                       persistent_workers=False, drop_last=drop_last)
