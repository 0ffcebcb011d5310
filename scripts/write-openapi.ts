import { writeFileSync } from 'node:fs';
import { functionTable } from '../functions/table';
import { openApiDocumentOf } from '../functions/http/openapi';

// Writes the OpenAPI document of the API to the file named by the first argument (build step of the console's types).
const target = process.argv[2];
if (target === undefined) {
  process.stderr.write('usage: write-openapi <file>\n');
  process.exit(2);
}
writeFileSync(target, `${JSON.stringify(openApiDocumentOf(functionTable), null, 2)}\n`);
