"""Expert review loop: spend a review budget where it moves the data most, review offline in a browser,
import the filled file back as `human` translations that outrank machine output, and measure how well the
automatic combined score agrees with people.

Modules (imported on demand; this package's import is light):
- `tables`: `review_queue` and `expert_reviews` table declarations (polars types only).
- `queue`: uncertainty of the best translation, priority = occurrences x uncertainty, stratified share.
- `page`: the self-contained HTML review page (template `page.html` with inline `page.js` / `page.css`).
- `importer`: validation and import of filled review files.
- `agreement`: budget curve, Spearman agreement per system, a suggested `high` threshold, report section.
- `stages`: the library stages behind `vlmfr review ...` and the Dagster assets.
"""

HUMAN_SYSTEM = "human"  # `translations.system` of French a reviewer wrote or approved
