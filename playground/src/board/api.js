// The board's GraphQL over HTTP: every figure it shows comes from these answers.
export class ApiError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join("; "));
    this.codes = errors.map((e) => e.extensions && e.extensions.code);
  }
}

export function api(token) {
  return async function gql(query, variables = {}) {
    const resp = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = await resp.json();
    if (body.errors && body.errors.length) throw new ApiError(body.errors);
    return body.data;
  };
}

export const BREACH_FIELDS = `id severity acknowledged detectedAt thresholdSeconds
  actualDurationSeconds targetDurationSeconds breachMarginSeconds breachMarginPercentage
  targetMarginSeconds targetMarginPercentage elapsedSeconds businessTime
  sla { id name } execution { id status workflow { id name } }`;

export const PAGE = 50;

export const BOARD = `query Board($filter: BreachFilterInput, $workflowId: ID) {
  viewer { email companyId }
  slaBreachEventsHead
  workflows(first: 100) { nodes { id name } }
  unacknowledgedBreachGroups(filter: $filter) { count severity sla { id name workflow { name } } }
  unacknowledgedBreaches(first: ${PAGE}, filter: $filter) { totalCount pageInfo { hasNextPage endCursor } nodes { ${BREACH_FIELDS} } }
  slas(first: 100, workflowId: $workflowId) { nodes { id name isActive workflow { id name } } }
}`;

export const MORE = `query More($filter: BreachFilterInput, $after: String) {
  unacknowledgedBreaches(first: ${PAGE}, after: $after, filter: $filter) { pageInfo { hasNextPage endCursor } nodes { ${BREACH_FIELDS} } }
}`;

export const TILES = `query Tiles($workflowId: ID) {
  slas(first: 100, workflowId: $workflowId) { nodes { id name workflow { name }
    metrics { windowHours total met compliancePercentage targetPercentage meetsTarget
      errorBudgetTotal errorBudgetUsed errorBudgetRemaining errorBudgetExhausted errorBudgetOverspent
      fastBurn slowBurn
      burnRates { longWindowSeconds shortWindowSeconds longBurnRate shortBurnRate threshold firing } }
    breachTimeline(hours: 24, bucketMinutes: 60) { total buckets { start count } } } }
}`;

export const STREAM = `subscription Board($filter: BreachEventFilterInput, $after: Int) {
  slaBreachEvents(filter: $filter, afterSequence: $after) { kind sequence replayed
    breach { ${BREACH_FIELDS} } }
}`;

export const ACK = `mutation Ack($id: ID!, $notes: String!) {
  acknowledgeBreach(input: { id: $id, notes: $notes }) { breach { id acknowledged } }
}`;

export const WORKFLOW = `query WorkflowView($id: ID!) {
  workflow(id: $id) { id name steps
    stepFlows { from to kind condition }
    stepStats { step runs executions p50Ms p95Ms breachedTimeShare breachedRuns } }
  workflowPaths(workflowId: $id) { truncated paths { steps skippedSteps description witness
    approvalChain predictedDurationMs } }
}`;
