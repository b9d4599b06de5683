"""DSG quality against the demo dataset's ground truth: detection, track identity, relation triples.

Matching rules (per DSG row, i.e. per caption segment):
- Each keyframe is compared with the ground-truth frame nearest its time (the demo's keyframes lie on its frames).
- Objects: Hungarian matching on IoU between predicted and ground-truth boxes of the same class name; a pair counts
  when IoU >= `iou_threshold` (0.5). Ground-truth objects less than `min_visible` visible (hidden behind others)
  are "don't care": missing them costs nothing and a detection matched to one is neither right nor wrong.
- Track identity: IDF1 = 2 IDTP / (ground-truth detections + predicted detections), IDTP from the best one-to-one
  map between ground-truth and predicted tracks (Hungarian on the number of keyframes where they match); identity
  switches = changes of the predicted track matched to a ground-truth track between its matched keyframes.
- Relation triples (subject, predicate, object) with the objects mapped through the keyframe's object matching:
  geometric predicates must hold at the same keyframe; motion predicates ("moves left", "approaches", ...) may be
  predicted at the keyframe before, at, or after (velocities over sparse keyframes smear the start and end of a
  movement); "appears" at ground-truth time t counts when predicted at the first keyframe at or after t (the event
  lies between that keyframe and the previous one), "disappears" at t when predicted at the last keyframe at or
  before t. Events before the first or after the last keyframe, or of objects not visible at that keyframe, cannot
  be seen in the keyframes and are left out. Recall is over ground-truth triples whose objects are not "don't
  care"; precision over predicted triples whose objects all matched a ground-truth object, by the same rules.
"""

import itertools
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from pipeline.relations import EVENT_PREDICATES, MOTION_PAIR_PREDICATES, MOTION_UNARY_PREDICATES
from pipeline.boxes import box_iou
from pipeline.demo import layout
from schemas.common import STATUS_OK

MOTION_PREDICATES = set(MOTION_UNARY_PREDICATES + MOTION_PAIR_PREDICATES)


@dataclass(frozen=True)
class EvalDSGConfig:
    data_root: str = field(default="data/demo", metadata={"help": "demo dataset folder (generated when absent)"})
    weights: str = field(default=str(layout.WEIGHTS), metadata={"help": "YOLO weights of the detector"})
    split: str = field(default="val", metadata={"help": "which split's segments: val (val_1.json) or train"})
    device: str = field(default="cpu", metadata={"help": "cpu, cuda:0, ..."})
    num_frames: int = field(default=8, metadata={"help": "keyframes per segment"})
    imgsz: int = field(default=320, metadata={"help": "detector input size (the demo detector trains at 320)"})
    conf: float = field(default=0.25, metadata={"help": "detector score threshold"})
    batch_size: int = field(default=8, metadata={"help": "samples per DSGBuilder call"})
    limit: int | None = field(default=None, metadata={"help": "evaluate only the first N segments"})
    iou_threshold: float = field(default=0.5, metadata={"help": "IoU for a detection to match a ground-truth box"})
    min_visible: float = field(default=0.5, metadata={"help": "ground-truth objects less visible are don't-care"})
    out: str | None = field(default=None, metadata={"help": "also write the metrics as JSON here"})
    relation_head: str | None = field(default=None, metadata={
        "help": "a trained MLP relation head (.pt) for the pair predicates; see python -m pipeline.relations"})
    oracle: bool = field(default=False, metadata={"help": "score ground-truth boxes and tracks at the keyframes "
                                                          "instead of the detector: the relation rules' upper bound"})


def match_objects(pred_boxes, pred_classes, gt_boxes, gt_classes, iou_threshold: float = 0.5) -> list[tuple]:
    """(pred index, gt index) pairs of a Hungarian matching on IoU among boxes of the same class, IoU >= threshold."""
    if not len(pred_boxes) or not len(gt_boxes):
        return []
    iou = box_iou(np.asarray(pred_boxes, float), np.asarray(gt_boxes, float))
    same = np.asarray(pred_classes)[:, None] == np.asarray(gt_classes)[None, :]
    score = np.where(same & (iou >= iou_threshold), iou, 0.0)
    return [(p, g) for p, g in zip(*linear_sum_assignment(-score)) if score[p, g] > 0]


class Tally:
    """Counts summed over rows; `metrics()` turns them into the reported figures."""

    def __init__(self):
        self.counts = Counter()
        self.recall_by_predicate = defaultdict(Counter)
        self.idtp_pairs = 0

    def metrics(self) -> dict:
        c = self.counts

        def ratio(a, b):
            return c[a] / c[b] if c[b] else float("nan")

        by_predicate = {p: {"found": n["found"], "total": n["total"], "recall": n["found"] / n["total"]}
                        for p, n in sorted(self.recall_by_predicate.items())}
        return {
            "rows": c["rows"], "error_rows": c["error_rows"], "keyframes": c["keyframes"],
            "object_recall": ratio("object_tp", "gt_objects"), "object_precision": ratio("object_tp", "pred_objects"),
            "gt_objects": c["gt_objects"], "pred_objects": c["pred_objects"],
            "idf1": 2 * c["idtp"] / (c["id_gt"] + c["id_pred"]) if c["id_gt"] + c["id_pred"] else float("nan"),
            "id_switches": c["id_switches"], "gt_tracks": c["gt_tracks"],
            "id_switches_per_track": ratio("id_switches", "gt_tracks"),
            "relation_recall": ratio("relation_found", "relation_total"),
            "relation_precision": ratio("relation_correct", "relation_predicted"),
            "relation_total": c["relation_total"], "relation_predicted": c["relation_predicted"],
            "relation_recall_by_predicate": by_predicate,
            "attribute_accuracy": ratio("attribute_right", "attribute_total"),
        }


def evaluate_row(row: dict, truth: dict, tally: Tally, iou_threshold: float = 0.5, min_visible: float = 0.5) -> None:
    """Add one DSG row (a dict with the schemas.dsg columns) compared with its video's ground truth to `tally`."""
    tally.counts["rows"] += 1
    if row["status"] != STATUS_OK:
        tally.counts["error_rows"] += 1
        return
    fps, frames, tracks = truth["fps"], truth["frames"], {t["track_id"]: t for t in truth["tracks"]}
    times = row["frame_times"]
    gt_frames = [frames[min(max(round(t * fps), 0), len(frames) - 1)] for t in times]
    objects = row["objects"]
    by_frame = defaultdict(list)
    for i, obj in enumerate(objects):
        by_frame[obj["frame"]].append(i)
    pred_to_gt = [{} for _ in times]  # keyframe -> {pred track: gt track}
    gt_to_pred = [{} for _ in times]
    dont_care_gt = [set() for _ in times]
    matched_pred = set()
    for k, gt_frame in enumerate(gt_frames):
        tally.counts["keyframes"] += 1
        gt_objects = gt_frame["objects"]
        dont_care_gt[k] = {o["track_id"] for o in gt_objects if o.get("visible_fraction", 1.0) < min_visible}
        preds = by_frame[k]
        pairs = match_objects([objects[i]["box"] for i in preds], [objects[i]["class_name"] for i in preds],
                              [o["box"] for o in gt_objects],
                              [tracks[o["track_id"]]["class_name"] for o in gt_objects], iou_threshold)
        ignored = 0
        for p, g in pairs:
            gt_track, pred = gt_objects[g]["track_id"], objects[preds[p]]
            matched_pred.add(preds[p])
            pred_to_gt[k][pred["track_id"]] = gt_track
            gt_to_pred[k][gt_track] = pred["track_id"]
            if gt_track in dont_care_gt[k]:
                ignored += 1
                continue
            tally.counts["object_tp"] += 1
            tally.counts["attribute_total"] += 1
            tally.counts["attribute_right"] += tracks[gt_track]["color"] in (pred["attributes"] or [])
        tally.counts["gt_objects"] += len(gt_objects) - len(dont_care_gt[k])
        tally.counts["pred_objects"] += len(preds) - ignored
    identity(row, gt_frames, gt_to_pred, dont_care_gt, tally)
    relations(row, truth, gt_frames, pred_to_gt, gt_to_pred, dont_care_gt, tally)


def identity(row, gt_frames, gt_to_pred, dont_care_gt, tally: Tally) -> None:
    gt_tracks = sorted({o["track_id"] for f, d in zip(gt_frames, dont_care_gt) for o in f["objects"]
                        if o["track_id"] not in d})
    pred_tracks = sorted({o["track_id"] for o in row["objects"]})
    overlap = np.zeros((len(gt_tracks), len(pred_tracks)))
    for k, matches in enumerate(gt_to_pred):
        for gt_track, pred_track in matches.items():
            if gt_track not in dont_care_gt[k]:
                overlap[gt_tracks.index(gt_track), pred_tracks.index(pred_track)] += 1
    if overlap.size:
        g, p = linear_sum_assignment(-overlap)
        tally.counts["idtp"] += int(overlap[g, p].sum())
    tally.counts["id_gt"] += sum(len(f["objects"]) - len(d) for f, d in zip(gt_frames, dont_care_gt))
    ignored = sum(1 for k, m in enumerate(gt_to_pred) for g in m if g in dont_care_gt[k])
    tally.counts["id_pred"] += len(row["objects"]) - ignored
    tally.counts["gt_tracks"] += len(gt_tracks)
    for gt_track in gt_tracks:
        sequence = [m[gt_track] for m in gt_to_pred if gt_track in m]
        tally.counts["id_switches"] += sum(a != b for a, b in itertools.pairwise(sequence))


def relations(row, truth, gt_frames, pred_to_gt, gt_to_pred, dont_care_gt, tally: Tally) -> None:
    times = row["frame_times"]
    objects = row["objects"]
    predicted = [set() for _ in times]  # keyframe -> {(pred subject track, predicate, pred object track)}
    for rel in row["relations"]:
        subject = objects[rel["subject"]]["track_id"]
        obj = None if rel["object"] is None else objects[rel["object"]]["track_id"]
        predicted[rel["frame"]].add((subject, rel["predicate"], obj))
    last = len(times) - 1

    def keyframes_for(predicate: str, k: int) -> range:
        return range(max(k - 1, 0), min(k + 2, last + 1)) if predicate in MOTION_PREDICATES else range(k, k + 1)

    def count(predicate, found):
        tally.counts["relation_total"] += 1
        tally.counts["relation_found"] += found
        tally.recall_by_predicate[predicate]["total"] += 1
        tally.recall_by_predicate[predicate]["found"] += found

    def seen(k, gt_track):
        return gt_track is None or gt_track in {o["track_id"] for o in gt_frames[k]["objects"]}

    # Recall over ground-truth triples.
    for k, gt_frame in enumerate(gt_frames):
        for rel in gt_frame["relations"]:
            s, p, o = rel["subject"], rel["predicate"], rel["object"]
            if p in EVENT_PREDICATES or s in dont_care_gt[k] or o in dont_care_gt[k]:
                continue
            mapped = (gt_to_pred[k].get(s), p, None if o is None else gt_to_pred[k].get(o))
            found = None not in (mapped[0], mapped[1]) and (o is None or mapped[2] is not None) and any(
                mapped in predicted[j] for j in keyframes_for(p, k))
            count(p, bool(found))
    for gt_frame in truth["frames"]:
        t = gt_frame["time"]
        for rel in gt_frame["relations"]:
            if rel["predicate"] == "appears" and times[0] < t <= times[-1] + 1e-6:
                k = next(j for j, time in enumerate(times) if time >= t - 1e-6)
            elif rel["predicate"] == "disappears" and times[0] - 1e-6 <= t < times[-1]:
                k = max(j for j, time in enumerate(times) if time <= t + 1e-6)
            else:
                continue
            s = rel["subject"]
            if not seen(k, s) or s in dont_care_gt[k]:
                continue
            count(rel["predicate"], (gt_to_pred[k].get(s), rel["predicate"], None) in predicted[k])

    # Precision over predicted triples whose objects matched.
    gt_triples = [{(r["subject"], r["predicate"], r["object"]) for r in f["relations"]} for f in gt_frames]
    events = {(r["subject"], r["predicate"], f["time"]) for f in truth["frames"] for r in f["relations"]
              if r["predicate"] in EVENT_PREDICATES}
    for k, triples in enumerate(predicted):
        for subject, p, obj in triples:
            s, o = pred_to_gt[k].get(subject), None if obj is None else pred_to_gt[k].get(obj)
            if s is None or (obj is not None and o is None):
                continue
            tally.counts["relation_predicted"] += 1
            if p == "appears":
                correct = any((s, p, t) in events for t in gt_times_between(truth, times, k - 1, k))
            elif p == "disappears":
                correct = any((s, p, t) in events for t in gt_times_between(truth, times, k, k + 1))
            else:
                correct = any((s, p, o) in gt_triples[j] for j in keyframes_for(p, k))
            tally.counts["relation_correct"] += correct


def gt_times_between(truth, times, a: int, b: int) -> list[float]:
    """Ground-truth frame times in (times[a], times[b]] for appear, [times[a], times[b]) for disappear: both ends."""
    low = times[max(a, 0)]
    high = times[min(b, len(times) - 1)]
    return [f["time"] for f in truth["frames"] if low - 1e-6 <= f["time"] <= high + 1e-6]


def load_truths(data_root: Path, video_ids) -> dict:
    return {v: layout.read_ground_truth(data_root, v) for v in set(video_ids)}


def evaluate_rows(rows: list[dict], truths: dict, iou_threshold: float = 0.5, min_visible: float = 0.5) -> dict:
    tally = Tally()
    for row in rows:
        evaluate_row(row, truths[row["video_id"]], tally, iou_threshold, min_visible)
    return tally.metrics()


def format_table(metrics: dict) -> str:
    """The metrics as Markdown tables, the detector that produced them first."""
    lines = [f"detector: {json.dumps(metrics['detector'])}", "| metric | value | target |", "|---|---|---|"]
    for name, key, target in [
        ("object recall @ IoU 0.5", "object_recall", ">= 0.95"),
        ("object precision @ IoU 0.5", "object_precision", ">= 0.95"),
        ("IDF1", "idf1", ">= 0.9"),
        ("identity switches per track", "id_switches_per_track", ""),
        ("relation triple recall", "relation_recall", ">= 0.9"),
        ("relation triple precision", "relation_precision", ""),
        ("colour attribute accuracy (matched objects)", "attribute_accuracy", ""),
    ]:
        lines.append(f"| {name} | {metrics[key]:.3f} | {target} |")
    lines.append(f"| segments (error rows) / keyframes | {metrics['rows']} ({metrics['error_rows']}) / "
                 f"{metrics['keyframes']} | |")
    lines.append(f"| ground-truth objects / detections / tracks | {metrics['gt_objects']} / {metrics['pred_objects']}"
                 f" / {metrics['gt_tracks']} | |")
    lines += ["", "| predicate | found / total | recall |", "|---|---|---|"]
    for predicate, n in metrics["relation_recall_by_predicate"].items():
        lines.append(f"| {predicate} | {n['found']} / {n['total']} | {n['recall']:.3f} |")
    return "\n".join(lines)


def oracle_rows(samples: list[dict], truths: dict, num_frames: int = 8, min_visible: float = 0.5,
                relater=None) -> list[dict]:
    """DSG rows made from the ground truth at the keyframes DSGBuilder would sample (objects at least
    `min_visible` visible, true tracks and colours) with the rule relations: what the rest of the stage scores
    when detection and linking are perfect."""
    from pipeline.decode import sample_frame_indices
    from pipeline.relations import Relater
    from pipeline.track import temporal_links

    relater = relater or Relater()
    rows = []
    for sample in samples:
        truth = truths[sample["video_id"]]
        tracks = {t["track_id"]: t for t in truth["tracks"]}
        frame_times = np.array([f["time"] for f in truth["frames"]])
        indices = sample_frame_indices(frame_times, sample["start"], sample["end"], num_frames)
        objects = [{"frame": k, "track_id": o["track_id"], "class_id": tracks[o["track_id"]]["class_id"],
                    "class_name": tracks[o["track_id"]]["class_name"], "score": 1.0, "box": o["box"],
                    "attributes": [tracks[o["track_id"]]["color"]]}
                   for k, i in enumerate(indices) for o in truth["frames"][i]["objects"]
                   if o.get("visible_fraction", 1.0) >= min_visible]
        times = [float(frame_times[i]) for i in indices]
        links = temporal_links([o["frame"] for o in objects], [o["track_id"] for o in objects])
        rows.append({**sample, "frame_times": times, "objects": objects,
                     "relations": relater.relate(objects, times),
                     "temporal_links": [{"source": a, "target": b} for a, b in links]})
    return rows


def evaluate(config: EvalDSGConfig) -> dict:
    """Build the DSG of every segment of `config.split` with DSGBuilder and score it; print progress and the table."""
    from pipeline.build_dsg import DSGBuilder

    data_root = Path(config.data_root)
    if not layout.is_generated(data_root):
        from pipeline.demo.generate import generate

        print(f"[eval-dsg] no demo data in {data_root}; generating it", flush=True)
        generate(data_root)
    samples = layout.read_split(data_root, config.split)[:config.limit]
    truths = load_truths(data_root, [s["video_id"] for s in samples])
    if config.oracle:
        from pipeline.relations import MLPRelationHead, Relater

        head = MLPRelationHead.load(config.relation_head) if config.relation_head else None
        rows = oracle_rows(samples, truths, config.num_frames, config.min_visible, Relater(head=head))
        metrics = evaluate_rows(rows, truths, config.iou_threshold, config.min_visible)
        metrics["detector"] = {"weights": "ground truth (oracle)", "sha256": ""}
        return metrics
    builder = DSGBuilder(config.weights, device=config.device, num_frames=config.num_frames, imgsz=config.imgsz,
                         conf=config.conf, relation_head=config.relation_head)
    rows, started = [], time.perf_counter()
    for first in range(0, len(samples), config.batch_size):
        chunk = samples[first:first + config.batch_size]
        out = builder({key: [s[key] for s in chunk] for key in chunk[0]})
        rows += [{key: out[key][i] for key in out} for i in range(len(chunk))]
        print(f"[eval-dsg] {len(rows)}/{len(samples)} segments ({time.perf_counter() - started:.1f} s)", flush=True)
    metrics = evaluate_rows(rows, truths, config.iou_threshold, config.min_visible)
    metrics["detector"] = builder.detector_info
    if config.out:
        Path(config.out).parent.mkdir(parents=True, exist_ok=True)
        Path(config.out).write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
