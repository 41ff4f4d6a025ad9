export {
  hmacOf,
  Notifier,
  NOTIFY_DEFAULTS,
  type NotifyFailure,
  parseWebhookUrl,
  signedHeaders,
  type Webhook,
} from "./deliver.ts";
export {
  backoffMs,
  bodyOf,
  type Notification,
  notificationOf,
  redactUrl,
  redactUrlsIn,
  slackText,
} from "./payload.ts";
