/** Every HTTP function, one module each; the route table's `fn` names them. */
import type { FunctionDefinition } from '../shared/http/function';
import { blobsSweep } from './blobs/sweep';
import { assetInitrd } from './boot/initrd';
import { assetKernel } from './boot/kernel';
import { bootInstalled } from './boot/report-installed';
import { bootReport } from './boot/report';
import { bootScript } from './boot/script';
import { defaultProfileDelete } from './default-profile/delete';
import { defaultProfileGet } from './default-profile/get';
import { defaultProfileSet } from './default-profile/set';
import { discoveriesList } from './discoveries/list';
import { metadataMetaData } from './metadata/meta-data';
import { metadataUserData } from './metadata/user-data';
import { metadataVendorData } from './metadata/vendor-data';
import { nocloudSeed } from './metadata/seed';
import { healthLiveness } from './health/liveness';
import { consoleAssets } from './console/assets';
import { healthStartup } from './health/startup';
import { machinesCreate } from './machines/create';
import { machinesDelete } from './machines/delete';
import { machinesGet } from './machines/get';
import { machinesList } from './machines/list';
import { machinesUpdate } from './machines/update';
import { machinesPatch } from './machines/patch';
import { machinesBoots } from './machines/boots';
import { bootScriptPreview } from './previews/mac';
import { machinesBootScript } from './previews/machine';
import { profilesCreate } from './profiles/create';
import { profilesCloudInit } from './profiles/cloud-init';
import { profilesDelete } from './profiles/delete';
import { profilesGet } from './profiles/get';
import { profilesUpdate } from './profiles/update';
import { uploadsCancel } from './uploads/cancel';
import { ipxeBinary } from './ipxe/binary';
import { ipxeList } from './ipxe/list';
import { ipxeUploadsCreate } from './ipxe/uploads-create';
import { ipxeUploadsFinalize } from './ipxe/uploads-finalize';
import { uploadsCreate } from './uploads/create';
import { uploadsFinalize } from './uploads/finalize';
import { uploadsGet } from './uploads/get';
import { uploadsVerify } from './uploads/verify';

export const definitions: readonly FunctionDefinition[] = [
  machinesCreate,
  machinesList,
  machinesGet,
  machinesUpdate,
  machinesDelete,
  machinesPatch,
  machinesBoots,
  machinesBootScript,
  bootScriptPreview,
  discoveriesList,
  profilesCreate,
  profilesGet,
  profilesUpdate,
  profilesDelete,
  profilesCloudInit,
  defaultProfileGet,
  defaultProfileSet,
  defaultProfileDelete,
  uploadsCreate,
  uploadsGet,
  uploadsFinalize,
  uploadsVerify,
  uploadsCancel,
  ipxeList,
  ipxeUploadsCreate,
  ipxeUploadsFinalize,
  ipxeBinary,
  bootScript,
  assetKernel,
  assetInitrd,
  bootReport,
  bootInstalled,
  metadataUserData,
  metadataMetaData,
  metadataVendorData,
  nocloudSeed,
  healthStartup,
  healthLiveness,
  consoleAssets,
  blobsSweep,
];
