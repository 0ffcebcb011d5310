import { z } from 'zod';
import { errorResponses, errorSchema } from '../../src/app/http/common-schemas';
import { defineRoute } from '../../src/app/http/route';
import { provisioningFor } from '../../src/app/provisioning-services';
import { ApiError } from '../../src/domain/errors';
import { listTenantLicenses } from '../../src/domain/provisioning/tenant-licenses';

const licenseSchema = z.object({
  skuId: z.string(),
  skuPartNumber: z.string(),
  appliesTo: z.string(),
  capabilityStatus: z.string(),
  enabled: z.number().int().meta({ description: 'Seats bought and active (prepaidUnits.enabled)' }),
  consumed: z.number().int().meta({ description: 'Seats assigned (consumedUnits)' }),
  free: z.number().int(),
  servicePlans: z.array(z.object({ servicePlanId: z.string(), servicePlanName: z.string() })),
});

export const listLicensesRoute = defineRoute({
  name: 'connections-licenses',
  method: 'GET',
  route: 'connections/{id}/licenses',
  auth: 'reader',
  summary: "The tenant's subscribed SKUs with their seats (enabled, consumed, free)",
  tags: ['connections'],
  params: z.strictObject({ id: z.string().min(1).max(128) }),
  responses: {
    200: { description: 'Subscribed SKUs', schema: z.object({ items: z.array(licenseSchema) }) },
    404: { description: 'No such connection', schema: errorSchema },
    409: { description: 'The connection is not active, or its consent predates licence management (consent_upgrade_required)', schema: errorSchema },
    503: { description: 'Microsoft Graph did not answer', schema: errorSchema },
    ...errorResponses,
  },
  handler: async ({ params, services }) => {
    const listed = await listTenantLicenses(provisioningFor(services), params.id);
    if (listed.ok) return { status: 200, body: { items: listed.value } };
    const { code, message } = listed.error;
    switch (code) {
      case 'connection_not_found':
        throw new ApiError('NOT_FOUND', message);
      case 'connection_not_active':
      case 'consent_upgrade_required':
        throw new ApiError('CONFLICT', message, [{ field: 'params.id', message: code }]);
      case 'graph_unavailable':
        throw new ApiError('SERVICE_UNAVAILABLE', message);
    }
  },
});
