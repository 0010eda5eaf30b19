"""The bigram index behind the list's text search (PostgreSQL only; SQLite migrates as a no-op).

Two SQL functions, a stored column and its GIN index; civicgrid.cases.search says how the list uses them:

- civicgrid_grams(t): the overlapping two-character grams of upper(t), each lowercased, joined by
  spaces. Characters that are not letters or digits ([[:alnum:]]) are first turned into spaces and a
  gram containing one is left out, so the text-search parser sees only runs of letters and digits
  between spaces and turns each gram into exactly one token, the same in a case and in a query (an
  XML-like "<a b>" or "1.5" in a case would otherwise be parsed across grams). upper() before
  splitting is the UPPER of Django's icontains, so a term the LIKE finds always has its grams among
  the case's. A string of fewer than two characters gives itself (lowercased); '' gives ''.
- civicgrid_case_grams(number, title, description, address): to_tsvector('simple', ...) of the grams
  of the four fields, taken per field, so no gram spans two fields. Its body is one immutable
  expression (||, not the stable concat_ws) so PostgreSQL inlines it: called as a function, it
  planned its four inner calls anew for every row and built the index four times slower.
- cases_case.search_grams, a column GENERATED ALWAYS AS civicgrid_case_grams(number, title,
  description, address) STORED (PostgreSQL computes it on every insert and update; Django's model
  does not know it, and never needs to write it), and the GIN index case_text_grams on it.

Why a stored column and not an index on the expression: a term found in most cases makes the index
answer a lossy bitmap, and PostgreSQL then rechecks each row of those pages by evaluating the
expression, about 70 µs a row — 100 s for a term in every one of 1,000,000 cases. Reading the stored
vector instead, the same search takes half a second.

Adding the column rewrites cases_case and builds the index under a lock that blocks writes: about
3.5 minutes for 1,000,000 cases on a 2-core machine. Plan that pause for a big live installation
(or create the column and the index by hand beforehand and record this migration with --fake).
"""

from django.db import migrations

FUNCTIONS = """
CREATE OR REPLACE FUNCTION civicgrid_grams(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN char_length(t) < 2 THEN lower(upper(coalesce(t, ''))) ELSE (
        SELECT coalesce(string_agg(lower(c || n), ' ' ORDER BY i), '')
        FROM (SELECT c, i, lead(c) OVER (ORDER BY i) AS n
              FROM unnest(string_to_array(regexp_replace(upper(t), '[^[:alnum:]]', ' ', 'g'), NULL))
                   WITH ORDINALITY AS chars(c, i)) AS pairs
        WHERE c <> ' ' AND n <> ' ') END
$$;

CREATE OR REPLACE FUNCTION civicgrid_case_grams(number text, title text, description text, address text)
RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_tsvector('simple'::regconfig, civicgrid_grams(number) || ' ' || civicgrid_grams(title) || ' '
                                            || civicgrid_grams(description) || ' ' || civicgrid_grams(address))
$$;
"""

INDEX = """
ALTER TABLE cases_case ADD COLUMN IF NOT EXISTS search_grams tsvector
    GENERATED ALWAYS AS (civicgrid_case_grams(number, title, description, address)) STORED;
CREATE INDEX IF NOT EXISTS case_text_grams ON cases_case USING gin (search_grams);
"""

DROP = """
DROP INDEX IF EXISTS case_text_grams;
ALTER TABLE cases_case DROP COLUMN IF EXISTS search_grams;
DROP FUNCTION IF EXISTS civicgrid_case_grams(text, text, text, text);
DROP FUNCTION IF EXISTS civicgrid_grams(text);
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTIONS, params=None)
        schema_editor.execute(INDEX, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0006_list_indexes_cover_the_scope"),
    ]

    operations = [
        migrations.RunPython(create, drop, elidable=False),
    ]
