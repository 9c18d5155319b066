"""A realistic sample retailer: daily files that exercise the importer and identity resolution.

`generate_retailer(out_dir, customers=..., days=...)` writes, per business day, the four files
of daily-files.md (`|`-delimited, UTF-8, `\\n`). A Chilean fashion and home chain: ten stores
that number their customers and orders independently (store-scoped ids: `17` in S01 and in S02
are different people) and a web shop (`W0000017`). On purpose, the files also hold:

- one Customers file in Windows-1252 (`summary.legacy_encoded_files`);
- one day with header-only files (an empty export);
- a corrected copy of one day's Orders file under `out_dir/resent/`, same name;
- orders re-sent on later days with status `fulfilled` or `cancelled`, with their lines again;
- return documents: new order numbers, negative units and amounts;
- one store (S08) that swaps TotalItems and TotalProducts;
- quoted cells (`"Polera ""Básica"" | Algodón"`, `{"Key":"Segment","Value":"VIP"}`);
- shared e-mails (families, junk values, the stores' `ventas@austral.cl`).

`truth_path` gets `store_code,user_id,person_id`: who each customer record really is.
"""

from clientela.generate.retailer import generate_retailer
from clientela.generate.summary import GenerationSummary

__all__ = ["GenerationSummary", "generate_retailer"]
