"""Concept ids from names people type, and an app's concepts in the order they were made.
No Textual: the Uploads and Concepts areas and the CLI share these."""

from __future__ import annotations

from api.client import ClarifaiClient
from api.models import Concept


def concept_id_for(name: str) -> str:
    """`"Bike Rider"` -> `"bike_rider"`: a concept id from a name (underscores, lower case)."""
    out = []
    for char in name.strip().lower():
        out.append(char if char.isalnum() or char in "_-" else "_")
    slug = "".join(out)
    while "__" in slug:
        slug = slug.replace("__", "_")
    return slug.strip("_")[:32].strip("_")  # ids are at most 32 characters (as the server checks)


def parse_concepts(text: str) -> tuple[str, ...]:
    """`"cat, Dog house"` -> `("cat", "dog_house")`, duplicates and blanks dropped."""
    ids = (concept_id_for(part) for part in text.split(","))
    return tuple(dict.fromkeys(i for i in ids if i))


async def app_concepts(client: ClarifaiClient, limit: int = 5_000) -> list[Concept]:
    """The app's concepts, oldest first (servers list the newest first)."""
    out: list[Concept] = []
    async for concept in client.iter_concepts():
        out.append(concept)
        if len(out) >= limit:
            break
    out.reverse()
    return out
