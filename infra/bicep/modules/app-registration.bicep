// The multi-tenant app registration that tenants' Global Administrators consent to, through the
// Microsoft Graph Bicep extension. It has no client secret and no certificate: its only credential
// is a federated identity credential trusting the function app's managed identity, whose token
// for api://AzureADTokenExchange msal-node presents as a client assertion.

extension microsoftGraphV1

@description('Unique name of the registration in this tenant (the extension\'s idempotency key).')
param uniqueName string
param displayName string

@description('$PUBLIC_BASE_URL/api/oauth/callback, where consent answers.')
param redirectUri string

@description('Object (principal) id of the user-assigned managed identity the registration trusts.')
param managedIdentityPrincipalId string

// Microsoft Graph's application id, the same in every tenant.
var microsoftGraphAppId = '00000003-0000-0000-c000-000000000000'

// The delegated permissions of README "Microsoft Graph permissions", by their Microsoft Graph
// permission (scope) ids.
var delegatedPermissions = [
  { value: 'offline_access', id: '7427e0e9-2fba-42fe-b0c0-848c9e6a8182' }
  { value: 'User.Read', id: 'e1fe6dd8-ba31-4d61-89e7-88639da4683d' }
  { value: 'User.ReadWrite.All', id: '204e0828-b5ca-4ad8-b9f3-f32a958e7cc4' }
  { value: 'User-PasswordProfile.ReadWrite.All', id: '56760768-b641-451f-8906-e1b8ab31bca7' }
  { value: 'Group.ReadWrite.All', id: '4e46008b-f24c-477d-8fff-7bb4ec7aafe0' }
  { value: 'Domain.Read.All', id: '2f9ee017-59c1-4f1d-9472-bd5529a7b311' }
  { value: 'RoleManagement.Read.Directory', id: '741c54c3-0c1e-44a1-818b-3f97ab4e8c83' }
  { value: 'Organization.Read.All', id: '4908d5b9-3fb2-4b1e-9336-1888b7937185' }
]

resource application 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  signInAudience: 'AzureADMultipleOrgs'
  web: {
    redirectUris: [
      redirectUri
    ]
    implicitGrantSettings: {
      enableAccessTokenIssuance: false
      enableIdTokenIssuance: false
    }
  }
  requiredResourceAccess: [
    {
      resourceAppId: microsoftGraphAppId
      resourceAccess: [
        for permission in delegatedPermissions: {
          id: permission.id
          type: 'Scope'
        }
      ]
    }
  ]

  resource managedIdentityCredential 'federatedIdentityCredentials@v1.0' = {
    name: '${application.uniqueName}/function-app-identity'
    description: 'The function app\'s user-assigned managed identity, in place of a client secret'
    audiences: [
      'api://AzureADTokenExchange'
    ]
    issuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
    subject: managedIdentityPrincipalId
  }
}

output clientId string = application.appId
