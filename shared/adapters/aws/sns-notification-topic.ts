/** NotificationTopic on Amazon SNS: one Publish per notification, attributes as String message attributes. */
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import type { NotificationTopic } from "../../core/ports.js";

export class SnsNotificationTopic implements NotificationTopic {
  constructor(private readonly options: { client: SNSClient; topicArn: string }) {}

  async publish(message: {
    subject: string;
    body: string;
    attributes: Record<string, string>;
  }): Promise<void> {
    await this.options.client.send(
      new PublishCommand({
        TopicArn: this.options.topicArn,
        Subject: message.subject.slice(0, 100),
        Message: message.body,
        MessageAttributes: Object.fromEntries(
          Object.entries(message.attributes).map(([k, v]) => [k, { DataType: "String", StringValue: v }]),
        ),
      }),
    );
  }
}
