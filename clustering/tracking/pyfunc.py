"""The fitted segmentation as an MLflow ``pyfunc`` model, loadable without the training data.

``mlflow.pyfunc.load_model("runs:/RUN_ID/model").predict(frame)`` assigns the entities of
``frame``: one row per entity with the ID column and the columns of every dataset (for a
DFU run, the monthly sales rows). ``unwrap_python_model().segmentation`` gives the
``clustering.assign.Segmentation`` itself, whose ``assign`` takes the input as sheets.
"""

from __future__ import annotations

import pickle

import mlflow.pyfunc
import pandas as pd

from clustering.assign import Segmentation

ARTIFACT = "segmentation"


class SegmentationModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: the pickled Segmentation is an artifact of the model."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        with open(context.artifacts[ARTIFACT], "rb") as handle:
            self.segmentation: Segmentation = pickle.load(handle)

    def predict(
        self, context: mlflow.pyfunc.PythonModelContext, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        """Final segment, name, distance and far flag of every entity in ``model_input``."""
        assignments, _ = self.segmentation.assign(self.segmentation.sheets_from_frame(model_input))
        return assignments
