"""The numbers the API takes in, bounded where the database's integers end.

Unbounded, a page like 10**20 made an offset no integer column holds, and an id like it overflowed
the query: a 500 instead of a 422. No list is that long: a million pages of a hundred is a hundred
million rows.
"""

from typing import Annotated

from ninja import Field

MAX_PAGE = 1_000_000
MAX_OFFSET = MAX_PAGE * 100

PageNumber = Annotated[int, Field(ge=1, le=MAX_PAGE)]
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET)]
RowId = Annotated[int, Field(ge=1, le=2**63 - 1)]  # a primary key: bigint
