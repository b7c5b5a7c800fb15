/** NotificationTopic on Amazon SNS: one Publish per notification, attributes as String message attributes. */
import type { SNSClient } from "@aws-sdk/client-sns";
import type { NotificationTopic } from "../../core/ports.js";
import { type SdkClient, sdkClientGetter } from "./sdk-client.js";

export class SnsNotificationTopic implements NotificationTopic {
  private readonly client: () => Promise<SNSClient>;

  constructor(private readonly options: { client: SdkClient<SNSClient>; topicArn: string }) {
    this.client = sdkClientGetter(options.client);
  }

  async publish(message: {
    subject: string;
    body: string;
    attributes: Record<string, string>;
  }): Promise<void> {
    const { PublishCommand } = await import("@aws-sdk/client-sns");
    await (await this.client()).send(
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
