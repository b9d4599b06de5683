"""The HSG cross edges a trained model draws for one (caption, clip) pair: what the report's HSG pictures show."""

import torch
import torch.nn.functional as F
from torch_geometric.utils import scatter

from model import hsg
from model.data import NODE_KINDS, text_graph, video_graph
from model.trainer import TrainConfig


@torch.no_grad()
def coreference_for_rows(model, tsg_row: dict, dsg_row: dict, config: TrainConfig) -> list[dict]:
    """The HSG cross edges of one (caption, clip) pair as the trained model draws them (model/hsg.py): each text
    object node to its top-k tracks by cosine similarity of the object phrase and the tracks' detection texts.

    -> [{"text_node": index into tsg_row["nodes"], "track_id": int, "score": float}]; [] for a model without graphs
    or a pair without objects on either side.
    """
    if not hasattr(model, "encode_strings"):
        return []
    kept = [i for i, n in enumerate(tsg_row["nodes"]) if config.use_modifiers or n["kind"] != "modifier"]
    text, video = text_graph(tsg_row, config.use_modifiers), video_graph(dsg_row, config.image_size,
                                                                         config.num_frames)
    object_nodes = (text.node_kind == NODE_KINDS.index("object")).nonzero(as_tuple=True)[0]
    if object_nodes.numel() == 0 or video.num_nodes == 0:
        return []
    model.eval()
    phrases, detections = model.encode_strings([text.node_phrase[i] for i in object_nodes.tolist()],
                                               video.object_text)
    group, num_groups = hsg.track_groups(torch.zeros(video.num_nodes, dtype=torch.long), video.track)
    zeros = torch.zeros(object_nodes.numel(), dtype=torch.long)
    pick, groups, _ = hsg.coreference(phrases, zeros, detections, group, torch.zeros(num_groups, dtype=torch.long),
                                      num_groups, config.model.cross_edge_k)
    track_embed = scatter(detections, group, dim=0, dim_size=num_groups, reduce="mean")
    similarity = F.normalize(phrases, dim=-1) @ F.normalize(track_embed, dim=-1).t()
    track_of_group = torch.zeros(num_groups, dtype=torch.long).scatter_(0, group, video.track)
    return [{"text_node": kept[object_nodes[t].item()], "track_id": int(track_of_group[g]),
             "score": float(similarity[t, g])} for t, g in zip(pick.tolist(), groups.tolist())]
