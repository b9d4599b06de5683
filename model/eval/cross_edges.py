"""The HSG cross edges a trained model draws for one (caption, clip) pair: what the report's HSG pictures show."""

import torch

from model.data import collate, text_graph, video_graph
from model.trainer import TrainConfig


@torch.no_grad()
def coreference_for_rows(model, tsg_row: dict, dsg_row: dict, config: TrainConfig) -> list[dict]:
    """The HSG cross edges of one (caption, clip) pair as the trained model draws them: each text object node to its
    top-k tracks by the learned coreference scores of the model's HSG encoder (model/hsg.py, CoreferenceScorer).

    -> [{"text_node": index into tsg_row["nodes"], "track_id": int, "score": float}] with score the coreference
    weight a_tg (softmax over the clip's tracks); [] for a model without graphs or a pair without objects on either
    side.
    """
    if not hasattr(model, "encode_hsg"):
        return []
    kept = [i for i, n in enumerate(tsg_row["nodes"]) if config.use_modifiers or n["kind"] != "modifier"]
    text, video = text_graph(tsg_row, config.use_modifiers), video_graph(dsg_row, config.image_size,
                                                                         config.num_frames)
    if video.num_nodes == 0:
        return []
    model.eval()
    device = next(model.parameters()).device
    text_batch, video_batch = (b.to(device) for b in collate([(text, video)]))
    encoded = model(text_batch, video_batch).encoded
    text_row, track_row, _ = encoded.top_k(config.model.cross_edge_k)
    weight = {(t, g): float(w) for t, g, w in zip(encoded.cross_text.tolist(), encoded.cross_track.tolist(),
                                                  encoded.weights.tolist())}
    track_of_group = torch.zeros(encoded.track.shape[0], dtype=torch.long).scatter_(
        0, encoded.track_group[encoded.video_track].cpu(), video.track)
    return [{"text_node": kept[encoded.text_node[t].item()], "track_id": int(track_of_group[encoded.track_group[g]]),
             "score": weight[(t, g)]} for t, g in zip(text_row.tolist(), track_row.tolist())]
