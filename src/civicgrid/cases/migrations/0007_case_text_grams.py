"""The bigram index behind the list's text search (PostgreSQL only; SQLite migrates as a no-op).

Two SQL functions and a GIN index on cases_case; see civicgrid.cases.search for how the list uses them:

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
- the GIN index case_text_grams on civicgrid_case_grams(number, title, description, address).

The index is built with a plain CREATE INDEX, because the migration runs in a transaction; it locks
cases_case against writes while it builds (about 25 s for 300,000 cases on a 2-core machine). On a big
live table an operator may build it first, by hand and outside a transaction, after creating the two
functions (run this migration's FUNCTIONS statements, then):

    CREATE INDEX CONCURRENTLY IF NOT EXISTS case_text_grams ON cases_case
        USING gin (civicgrid_case_grams(number, title, description, address));

the migration then finds the index in place (IF NOT EXISTS) and only records itself as applied.
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
CREATE INDEX IF NOT EXISTS case_text_grams ON cases_case
    USING gin (civicgrid_case_grams(number, title, description, address));
"""

DROP = """
DROP INDEX IF EXISTS case_text_grams;
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
