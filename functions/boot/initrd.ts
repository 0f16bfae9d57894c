import { defineFunction } from '../../shared/http/function';
import { assetHandler } from './asset';

export const assetInitrd = defineFunction('assetInitrd', assetHandler('initrd'));
