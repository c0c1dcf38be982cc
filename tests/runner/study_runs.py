"""The MLflow runs of a study, as the runner tests read them."""


def children(uri: str, study: str):
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(f"shapca/{study}")  # each study has an experiment of its own
    runs = client.search_runs([exp.experiment_id], f"tags.study = '{study}'")
    parents = [r for r in runs if r.data.tags.get("shapca.role") == "study"]
    kids = [r for r in runs if r.data.tags.get("shapca.role") == "trial"]
    return client, parents, kids
