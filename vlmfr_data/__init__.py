"""vlmfr-data: translate English multimodal datasets to French, score every translation, cut tiers.

The library never imports Dagster: `assets/` wraps it. From a notebook:

    from vlmfr_data.config import load_config
    from vlmfr_data.store import Warehouse
    from vlmfr_data.ingest import ingest_dataset
    warehouse = Warehouse()
    ingest_dataset(warehouse, load_config().datasets[0])
    warehouse.sql("SELECT kind, count(*) FROM segments GROUP BY 1")
"""

__version__ = "0.1.0"
