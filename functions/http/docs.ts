import { z } from 'zod';
import { ApiError } from '../../src/domain/errors';
import { defineRoute } from '../../src/app/http/route';
import { referenceAsset, referenceHeaders, referencePage } from '../../src/app/http/api-reference';
import { errorSchema } from '../../src/app/http/common-schemas';

export const apiReferenceRoute = defineRoute({
  name: 'docs',
  method: 'GET',
  route: 'docs',
  auth: 'none',
  summary: 'The rendered reference of this API (Swagger UI on /api/openapi.json)',
  tags: ['operations'],
  responses: { 200: { description: 'HTML page', contentType: 'text/html', schema: z.string() } },
  handler: async () => ({ status: 200, html: referencePage, headers: referenceHeaders }),
});

export const apiReferenceAssetRoute = defineRoute({
  name: 'docs-asset',
  method: 'GET',
  route: 'docs/{file}',
  auth: 'none',
  summary: 'A script or style sheet of the reference page',
  tags: ['operations'],
  params: z.strictObject({ file: z.string().min(1).max(64) }),
  responses: { 200: { description: 'The file', contentType: 'text/plain', schema: z.string() }, 404: { description: 'No such file', schema: errorSchema } },
  handler: async ({ params }) => {
    const asset = await referenceAsset(params.file);
    if (asset === undefined) throw new ApiError('NOT_FOUND', `docs/${params.file} not found`);
    return { status: 200, text: asset.text, headers: { 'content-type': asset.contentType, 'cache-control': 'public, max-age=3600' } };
  },
});
