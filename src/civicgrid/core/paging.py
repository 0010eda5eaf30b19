"""The page numbers and offsets the API's lists accept.

Without a ceiling a page like 10**20 made an offset no database integer holds: a 500 instead of a
422. No list is that long: a million pages of a hundred is a hundred million rows.
"""

from typing import Annotated

from ninja import Field

MAX_PAGE = 1_000_000
MAX_OFFSET = MAX_PAGE * 100

PageNumber = Annotated[int, Field(ge=1, le=MAX_PAGE)]
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET)]
