// Prepared operations, one tab each, so a newcomer can run something at once.
export const examples = [
  {
    query: `# List the workflows of your company, with their owners and step actions.
query Workflows {
  workflows(first: 10) {
    totalCount
    edges {
      node {
        id
        name
        status
        workflowType
        owner { email role }
        actions { actionType latencyClass isIdempotent }
      }
    }
  }
}
`,
  },
  {
    query: `# Create a catalog action (needs an admin or editor token).
mutation CreateAction($input: CreateActionInput!) {
  createAction(input: $input) {
    action { id name actionType latencyClass isIdempotent }
  }
}
`,
    variables: JSON.stringify(
      {
        input: {
          name: "Send Slack message",
          actionType: "slack_message",
          latencyClass: "FAST",
          isIdempotent: false,
          sideEffects: ["external_message"],
          inputSchema: {
            type: "object",
            required: ["channel", "text"],
            properties: { channel: { type: "string" }, text: { type: "string" } },
          },
        },
      },
      null,
      2,
    ),
  },
  {
    query: `# Live SLA breaches of your company (the demo produces some every minute).
subscription BreachStream {
  slaBreachEvents {
    kind
    sequence
    breach {
      severity
      actualDurationSeconds
      breachMarginSeconds
      sla { name targetDurationSeconds }
      execution { id status workflow { name } }
    }
  }
}
`,
  },
  {
    query: `# Mine the last 30 days of history for suggestions (the demo imports three weeks of it).
# nearMisses: the strongest rules that history does not support well enough to suggest.
mutation Suggest {
  generateSuggestions(input: {days: 30, minOccurrences: 10}) {
    created { suggestionType title description confidenceScore impact }
    updated
    nearMisses { step decision rule support matching wilsonLowerBound }
  }
}
`,
  },
  {
    query: `# Check an input against an action's JSON Schema.
query Validate {
  validateActionInput(actionType: "send_email", input: {to: 42}) {
    valid
    errors { pointer message }
  }
}
`,
  },
];
