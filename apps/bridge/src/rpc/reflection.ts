import {
  create,
  type DescEnum,
  type DescExtension,
  type DescFile,
  type DescMessage,
  fromBinary,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import { grpcReflectionV1, grpcReflectionV1alpha } from "@mentra/bridge-proto";

const V1 = grpcReflectionV1;
const V1alpha = grpcReflectionV1alpha;

type V1Request = grpcReflectionV1.ServerReflectionRequest;
type V1Reply = MessageInitShape<typeof grpcReflectionV1.ServerReflectionResponseSchema>;

// grpc/status codes the reflection spec puts in ErrorResponse.error_code.
const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;

/**
 * The schema the router serves, indexed for reflection: each file by name, each fully
 * qualified symbol (service, method, message, field, enum, enum value, extension) to the
 * file that declares it, and extensions by the message they extend.
 */
interface SchemaIndex {
  readonly services: readonly string[];
  readonly files: ReadonlyMap<string, DescFile>;
  readonly symbols: ReadonlyMap<string, DescFile>;
  readonly extensions: ReadonlyMap<string, ReadonlyMap<number, DescFile>>;
}

function indexSchema(router: ConnectRouter): SchemaIndex {
  const services = [...new Set(router.handlers.map((h) => h.service.typeName))].sort();
  const files = new Map<string, DescFile>();
  const symbols = new Map<string, DescFile>();
  const extensions = new Map<string, Map<number, DescFile>>();
  const addExtension = (file: DescFile, ext: DescExtension) => {
    symbols.set(ext.typeName, file);
    const extendee = ext.extendee.typeName;
    const byNumber = extensions.get(extendee) ?? new Map<number, DescFile>();
    byNumber.set(ext.number, file);
    extensions.set(extendee, byNumber);
  };
  const addEnum = (file: DescFile, desc: DescEnum) => {
    symbols.set(desc.typeName, file);
    // Enum values are scoped like siblings of their enum (C++ scoping rules).
    const scope = desc.typeName.slice(0, desc.typeName.length - desc.name.length);
    for (const value of desc.values) symbols.set(`${scope}${value.name}`, file);
  };
  const addMessage = (file: DescFile, desc: DescMessage) => {
    symbols.set(desc.typeName, file);
    for (const field of desc.fields) symbols.set(`${desc.typeName}.${field.name}`, file);
    for (const oneof of desc.oneofs) symbols.set(`${desc.typeName}.${oneof.name}`, file);
    for (const nested of desc.nestedMessages) addMessage(file, nested);
    for (const nested of desc.nestedEnums) addEnum(file, nested);
    for (const ext of desc.nestedExtensions) addExtension(file, ext);
  };
  const addFile = (file: DescFile) => {
    if (files.has(file.proto.name)) return;
    files.set(file.proto.name, file);
    for (const dependency of file.dependencies) addFile(dependency);
    for (const service of file.services) {
      symbols.set(service.typeName, file);
      for (const method of service.methods) symbols.set(`${service.typeName}.${method.name}`, file);
    }
    for (const message of file.messages) addMessage(file, message);
    for (const desc of file.enums) addEnum(file, desc);
    for (const ext of file.extensions) addExtension(file, ext);
  };
  for (const handler of router.handlers) addFile(handler.service.file);
  return { services, files, symbols, extensions };
}

/** The file and every file it imports, transitively, each once, the file first. */
function withDependencies(file: DescFile): Uint8Array[] {
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  const visit = (desc: DescFile) => {
    if (seen.has(desc.proto.name)) return;
    seen.add(desc.proto.name);
    out.push(toBinary(FileDescriptorProtoSchema, desc.proto));
    for (const dependency of desc.dependencies) visit(dependency);
  };
  visit(file);
  return out;
}

function answer(index: SchemaIndex, request: V1Request): V1Reply {
  const reply = (messageResponse: NonNullable<V1Reply["messageResponse"]>): V1Reply => ({
    validHost: request.host,
    originalRequest: request,
    messageResponse,
  });
  const files = (file: DescFile | undefined, what: string) =>
    file === undefined
      ? reply({
          case: "errorResponse",
          value: { errorCode: NOT_FOUND, errorMessage: `${what} not found` },
        })
      : reply({
          case: "fileDescriptorResponse",
          value: { fileDescriptorProto: withDependencies(file) },
        });
  const query = request.messageRequest;
  switch (query.case) {
    case "listServices":
      return reply({
        case: "listServicesResponse",
        value: { service: index.services.map((name) => ({ name })) },
      });
    case "fileByFilename":
      return files(index.files.get(query.value), `file ${query.value}`);
    case "fileContainingSymbol":
      return files(index.symbols.get(query.value), `symbol ${query.value}`);
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = query.value;
      return files(
        index.extensions.get(containingType)?.get(extensionNumber),
        `extension ${extensionNumber} of ${containingType}`,
      );
    }
    case "allExtensionNumbersOfType": {
      if (!index.symbols.has(query.value)) {
        return files(undefined, `type ${query.value}`);
      }
      const numbers = [...(index.extensions.get(query.value)?.keys() ?? [])].sort((a, b) => a - b);
      return reply({
        case: "allExtensionNumbersResponse",
        value: { baseTypeName: query.value, extensionNumber: numbers },
      });
    }
    default:
      return reply({
        case: "errorResponse",
        value: { errorCode: INVALID_ARGUMENT, errorMessage: "empty reflection request" },
      });
  }
}

/**
 * Registers gRPC server reflection, `grpc.reflection.v1.ServerReflection` and its older
 * name `grpc.reflection.v1alpha.ServerReflection` (same messages on the wire), so grpcurl,
 * buf curl and grpcui work without proto files. It describes every service registered on
 * the router when a stream opens, with the descriptors embedded in the generated code;
 * call it after the other services are registered or not, as the index is built lazily.
 */
export function registerReflection(router: ConnectRouter): void {
  let index: SchemaIndex | undefined;
  const schema = () => {
    index ??= indexSchema(router);
    return index;
  };
  router.service(V1.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) yield answer(schema(), request);
    },
  });
  router.service(V1alpha.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        // v1alpha and v1 are the same messages under another package: translate on the wire.
        const v1 = fromBinary(
          V1.ServerReflectionRequestSchema,
          toBinary(V1alpha.ServerReflectionRequestSchema, request),
        );
        const reply = toBinary(
          V1.ServerReflectionResponseSchema,
          create(V1.ServerReflectionResponseSchema, answer(schema(), v1)),
        );
        yield fromBinary(V1alpha.ServerReflectionResponseSchema, reply);
      }
    },
  });
}
