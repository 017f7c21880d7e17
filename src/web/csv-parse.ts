/**
 * csv-parse's browser build (its Node build needs Node's Buffer), bundled apart (kd-csv.js) and
 * imported only when the page is given a CSV file: data/csv-format.ts parses with it.
 */
export { parse } from "csv-parse/browser/esm/sync";
