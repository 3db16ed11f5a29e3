// The produce form: sends the text box's value (as UTF-8) as one record through the node the
// console talks to (a follower forwards it to the leader) and says which offset it got.
import { ConnectError } from "@connectrpc/connect";
import type { NodeConnection } from "./node-connection.ts";

export function wireProduceForm(connection: NodeConnection, form: HTMLFormElement, value: HTMLTextAreaElement, status: HTMLElement): void {
  const encoder = new TextEncoder();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = value.value;
    status.textContent = "Producing…";
    connection.client.produce({ record: { value: encoder.encode(text) } }).then(
      ({ offset }) => {
        status.textContent = `Produced at offset ${offset}.`;
        value.value = "";
      },
      (error: unknown) => {
        status.textContent = `Not produced: ${ConnectError.from(error).message}`;
      },
    );
  });
}
