"""How many classes an SSD model's post-processing op reports, read from the model file.

`TFLite_Detection_PostProcess` keeps `num_classes` in its custom options (a FlexBuffer
map); the model's flatbuffer is read with the schema that ships with ai-edge-litert.
Where that schema or the op is missing, the count is unknown (None).
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

log = logging.getLogger(__name__)

POSTPROCESS_OP = b"TFLite_Detection_PostProcess"


def postprocess_classes(path: Path) -> int | None:
    """`num_classes` of the model's post-processing op, or None when it cannot be read."""
    try:
        schema = importlib.import_module("ai_edge_litert.schema_py_generated")
        flexbuffers = importlib.import_module("flatbuffers.flexbuffers")
        data = path.read_bytes()
        model = schema.Model.GetRootAsModel(data, 0)
        codes = [model.OperatorCodes(i).CustomCode() for i in range(model.OperatorCodesLength())]
        for s in range(model.SubgraphsLength()):
            graph = model.Subgraphs(s)
            for o in range(graph.OperatorsLength()):
                op = graph.Operators(o)
                if codes[op.OpcodeIndex()] == POSTPROCESS_OP:
                    options = flexbuffers.Loads(bytes(op.CustomOptionsAsNumpy()))
                    return int(options["num_classes"])
    except Exception as error:
        log.debug("class count of %s unknown: %s", path.name, error)
    return None
