"""Identity resolution: identifiers, the links between them, and one profile per person.

See docs/identity.md. `rules` says what an identifier is; `evidence` takes identifiers and links
from stored records; `components` turns links into profiles under the limits; `resolve` runs it
incrementally or in full and keeps client ids stable.
"""
