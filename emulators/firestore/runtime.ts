// Runtime values of @firestore-emulator/* loaded with require(): under vitest an ESM import
// resolves to their "module" builds, which Node cannot load (extensionless relative imports).
// grpc-js is taken from the server package's own dependency, the copy its service code expects.
import { createRequire } from "node:module";
import type * as GrpcJs from "@grpc/grpc-js";
import type * as FirestoreServerPkg from "@firestore-emulator/server";
import type * as DocumentProto from "@firestore-emulator/proto/dist/google/firestore/v1/document";
import type * as FirestoreProto from "@firestore-emulator/proto/dist/google/firestore/v1/firestore";
import type * as EmptyProto from "@firestore-emulator/proto/dist/google/protobuf/empty";
import type { FirestoreServiceV1Impl } from "@firestore-emulator/server/dist/server/FirestoreServiceV1Impl";
import type { convertV1DocumentField } from "@firestore-emulator/server/dist/FirestoreState/field";

/* eslint-disable @typescript-eslint/no-require-imports */
const serverRequire = createRequire(require.resolve("@firestore-emulator/server"));

export const grpc = serverRequire("@grpc/grpc-js") as typeof GrpcJs;
export const serverPkg = require("@firestore-emulator/server") as typeof FirestoreServerPkg;
export const { FirestoreServiceV1Impl: BaseService } = require("@firestore-emulator/server/dist/server/FirestoreServiceV1Impl") as {
  FirestoreServiceV1Impl: typeof FirestoreServiceV1Impl;
};
export const { convertV1DocumentField: toStateField } = require("@firestore-emulator/server/dist/FirestoreState/field") as {
  convertV1DocumentField: typeof convertV1DocumentField;
};
export const documentProto = require("@firestore-emulator/proto/dist/google/firestore/v1/document") as typeof DocumentProto;
export const firestoreProto = require("@firestore-emulator/proto/dist/google/firestore/v1/firestore") as typeof FirestoreProto;
export const emptyProto = require("@firestore-emulator/proto/dist/google/protobuf/empty") as typeof EmptyProto;
/* eslint-enable @typescript-eslint/no-require-imports */
