// List cameras from Node: `node dist/examples/list-cameras.js http://127.0.0.1:50051 admin PASSWORD`
// (the README's first command prints the admin password on first start).
import { createClient } from "@connectrpc/connect";
import { CameraService, CameraStatus } from "../gen/camfleet/v1/camera_pb.js";
import { AuthService } from "../gen/camfleet/v1/auth_pb.js";
import { Session } from "../session.js";
import { nodeTransport } from "../node.js";

async function main(): Promise<void> {
  const [baseUrl = "http://127.0.0.1:50051", username = "admin", password = ""] =
    process.argv.slice(2);
  // The session logs in and refreshes over a bare transport; calls go through its interceptor.
  const session = new Session(nodeTransport(baseUrl));
  await session.login(username, password);
  const transport = nodeTransport(baseUrl, [session.interceptor]);
  const me = await createClient(AuthService, transport).whoAmI({});
  console.log(`logged in as ${me.user?.username} with ${me.permissions.length} permissions`);
  const cameras = createClient(CameraService, transport);
  let pageToken = "";
  do {
    const page = await cameras.listCameras({ pageSize: 100, pageToken });
    for (const cam of page.cameras) {
      console.log(`${cam.id}  ${CameraStatus[cam.status].padEnd(10)}  ${cam.name}`);
    }
    pageToken = page.nextPageToken;
  } while (pageToken);
}

main().catch((err: unknown) => {
  console.error(String(err));
  process.exit(1);
});
